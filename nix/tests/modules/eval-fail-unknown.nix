{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      { options.services.foo.enable = lib.mkEnableOption "foo"; }
      { services.foo.enable = true; }
      {
        services.foo.enabel = true;
      }
    ];
  };
in r.config.services.foo.enable
