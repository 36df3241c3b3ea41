{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [ { options.x.y = lib.mkOption { type = lib.types.int; }; } ];
  };
in r.config.x.y
