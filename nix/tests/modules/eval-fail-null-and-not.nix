{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.x = lib.mkOption { type = lib.types.nullOr lib.types.int; }; }
      { x = null; }
      { x = 1; }
    ];
  };
in r.config.x
