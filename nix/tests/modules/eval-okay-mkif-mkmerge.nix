# mkIf and mkMerge nest at any depth, conditions may read config, and false branches vanish.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkIf mkMerge;
  r = lib.evalModules {
    modules = [
      ({ config, ... }: {
        options = {
          enable = mkOption { type = types.bool; default = false; };
          extra = mkOption { type = types.bool; default = true; };
          items = mkOption { type = types.listOf types.str; default = [ ]; };
          name = mkOption { type = types.str; default = "none"; };
          attrs = mkOption { type = types.attrsOf types.int; default = { }; };
        };
        config = mkIf config.enable (mkMerge [
          { items = [ "a" ]; }
          (mkIf config.extra { items = [ "b" ]; name = "set"; })
          (mkIf false { items = [ "never" ]; })
          { attrs = mkMerge [ { x = 1; } (mkIf config.extra { y = 2; }) (mkIf false { z = 3; }) ]; }
        ]);
      })
      { enable = true; }
      { items = mkMerge [ [ "c" ] (mkIf true [ "d" ]) ]; }
      { attrs.w = mkIf true 4; attrs.v = mkIf false 5; }
    ];
  };
in { inherit (r.config) items name attrs enable; }
