{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.x = lib.mkOption { type = lib.types.int; default = 1; }; }
      { x = lib.mkIf "yes" 2; }
    ];
  };
in r.config.x
