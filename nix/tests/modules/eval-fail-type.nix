{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.services.web.port = lib.mkOption { type = lib.types.int; }; }
      {
        services.web.port = "eighty";
      }
    ];
  };
in r.config.services.web.port
