{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.pkg = lib.mkOption { type = lib.types.uniq lib.types.str; }; }
      { pkg = "a"; }
      { pkg = "a"; }
    ];
  };
in r.config.pkg
