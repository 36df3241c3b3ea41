# nixpkgs: 20.09+
# A disabled module's imports are disabled with it (nixpkgs 18.03 kept them), unless
# imported elsewhere too.
{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      ./data/base.nix
      ./data/unwanted-parent.nix
      { disabledModules = [ ./data/unwanted-parent.nix ]; }
    ];
  };
in r.config.services.base.tags
