{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [ ({ pkgs, ... }: { options.x = lib.mkOption { default = pkgs.hello; }; }) ];
  };
in r.config.x
