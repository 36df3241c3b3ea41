# mkDefault < plain < mkForce; mkOptionDefault below all; equal priorities merge.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkDefault mkForce mkOverride mkOptionDefault;
  eval = defs: (lib.evalModules {
    modules = [
      {
        options.a = mkOption { type = types.int; default = 1; };
        options.l = mkOption { type = types.listOf types.int; default = [ 0 ]; };
      }
    ] ++ defs;
  });
  r1 = eval [ { a = mkDefault 2; } ];
  r2 = eval [ { a = mkDefault 2; } { a = 3; } ];
  r3 = eval [ { a = mkForce 4; } { a = 3; } { a = mkDefault 2; } ];
  r4 = eval [ { l = [ 1 ]; } { l = [ 2 ]; } { l = mkDefault [ 9 ]; } ];
  r5 = eval [ { l = mkOverride 20 [ 5 ]; } { l = mkForce [ 6 ]; } ];
  r6 = eval [ { l = mkOptionDefault [ 7 ]; } ];
  r7 = eval [ ];
in {
  values = map (r: r.config.a) [ r1 r2 r3 r7 ];
  lists = map (r: r.config.l) [ r4 r5 r6 r7 ];
  defined = (eval [ ]).options.a.isDefined;
  definitions = r4.options.l.definitions;
}
