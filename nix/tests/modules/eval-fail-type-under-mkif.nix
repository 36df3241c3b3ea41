{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.a.b = lib.mkOption { type = lib.types.bool; }; }
      {
        config = lib.mkIf true (lib.mkMerge [
          { a.b = "yes"; }
        ]);
      }
    ];
  };
in r.config.a.b
