# imports (paths, functions, nested), dedup of a module imported twice, disabledModules.
{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      ./data/base.nix
      { imports = [ ./data/base.nix ./data/extra.nix ./data/unwanted.nix ]; }
      { disabledModules = [ ./data/unwanted.nix ]; }
      ({ lib, ... }: { imports = [ { services.base.tags = [ "from-function-import" ]; } ]; })
    ];
  };
in {
  inherit (r.config.services.base) enable tags;
  hasUnwanted = r.options.services ? unwanted;
  files = map baseNameOf r.options.services.base.enable.files;
}
