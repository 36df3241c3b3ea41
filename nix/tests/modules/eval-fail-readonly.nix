{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.v = lib.mkOption { type = lib.types.str; readOnly = true; }; }
      { v = "a"; }
      { v = "b"; }
    ];
  };
in r.config.v
