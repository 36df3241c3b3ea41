# nixpkgs: ..18.03
# Forms NixOS 18.03's own modules use: loaOf with list definitions, sub-options given as
# `options = [ … ]`, a module's `meta`.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types;
  extraOpts = { encrypted = mkOption { type = types.bool; default = false; }; };
  r = lib.evalModules {
    modules = [
      {
        options.fs = mkOption { type = types.loaOf (types.submodule ({ name, ... }: { options.path = mkOption { type = types.str; default = name; }; options.name = mkOption { type = types.str; default = name; }; })); };
        options.meta = mkOption { type = types.attrsOf types.unspecified; default = { }; };
      }
      { options.fs = mkOption { options = [ extraOpts ]; }; }
      { fs = [ { path = "/a"; } { name = "b"; encrypted = true; } ]; }
      { fs.c = { }; }
      { meta.maintainers = [ "someone" ]; config = { }; }
    ];
  };
in {
  fs = builtins.mapAttrs (n: v: removeAttrs v [ "_module" ]) r.config.fs;
  inherit (r.config) meta;
  fsType = r.options.fs.type.description;
  example = lib.literalExample "pkgs.hello";
}
