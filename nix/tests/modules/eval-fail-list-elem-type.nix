{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.xs = lib.mkOption { type = lib.types.listOf lib.types.int; }; }
      { xs = [ 1 "two" ]; }
    ];
  };
in r.config.xs
