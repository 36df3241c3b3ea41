# mkBefore/mkAfter/mkOrder sort list and string definitions; equal orders keep module order.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkBefore mkAfter mkOrder;
  r = lib.evalModules {
    modules = [
      {
        options.l = mkOption { type = types.listOf types.str; };
        options.s = mkOption { type = types.lines; };
      }
      { l = [ "middle1" ]; s = "middle"; }
      { l = mkAfter [ "last" ]; s = mkAfter "end"; }
      { l = mkBefore [ "first" ]; s = mkBefore "start"; }
      { l = mkOrder 10 [ "very-first" ]; }
      { l = [ "middle2" ]; }
      { l = mkOrder 1000 [ "middle3" ]; }
    ];
  };
in { inherit (r.config) l s; }
