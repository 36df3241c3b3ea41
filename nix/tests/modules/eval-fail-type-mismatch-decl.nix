{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.x = lib.mkOption { type = lib.types.int; }; }
      { options.x = lib.mkOption { type = lib.types.str; }; }
    ];
  };
in r.config.x
