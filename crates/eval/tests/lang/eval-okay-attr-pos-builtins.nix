# Which builtins keep, move or drop attribute positions (lib's declarationPositions relies on
# them): mapAttrs and zipAttrsWith drop them, listToAttrs takes the element's `value`
# position, functionArgs the formal's, and removeAttrs, intersectAttrs and // keep them.
let
  s = { a = 1; b = 2; };
  l = builtins.listToAttrs [ { name = "x";
    value = 1; } ];
  f = { p ? 1, q }: p;
  pos = n: s: let p = builtins.unsafeGetAttrPos n s; in if p == null then null else [ p.line p.column ];
in [
  (pos "a" (builtins.mapAttrs (n: v: v) s))
  (pos "x" l)
  (pos "b" (builtins.removeAttrs s [ "a" ]))
  (pos "a" (builtins.intersectAttrs { a = 0; } s))
  (pos "a" (builtins.zipAttrsWith (n: v: v) [ s ]))
  (pos "p" (builtins.functionArgs f))
  (pos "q" (builtins.functionArgs f))
  (pos "a" (s // { c = 3; }))
  (pos "c" (s // { c = 3; }))
]
