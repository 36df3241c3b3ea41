{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.name = lib.mkOption { type = lib.types.str; }; }
      { name = "alice"; }
      { name = "bob"; }
    ];
  };
in r.config.name
