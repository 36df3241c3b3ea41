# nixpkgs: 20.09+
# The `highestPrio` of option records (newer than nixpkgs 18.03).
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
  prios = map (r: r.options.a.highestPrio) [ r1 r2 r3 r7 ];
  listPrios = map (r: r.options.l.highestPrio) [ r4 r5 r6 r7 ];
}
