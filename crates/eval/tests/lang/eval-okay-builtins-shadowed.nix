# `builtins.name` is the builtin only where `builtins` is the base environment's: a `let`, a
# parameter or a scopedImport set named `builtins` shadows it; `with` does not.
let
  a = builtins.head [ 1 2 ];
  b = let builtins = { head = _: "let"; }; in builtins.head [ 1 ];
  c = (builtins: builtins.head [ 3 ]) { head = _: "parameter"; };
  d = with { builtins = { head = _: "with"; }; }; builtins.head [ 4 ];
  e = builtins.typeOf builtins.head;
  f = builtins.tryEval (builtins.throw "x");
  g = scopedImport { builtins = { head = _: "scoped"; }; } ./imports/scoped-builtins.nix;
  h = map builtins.head [ [ 5 ] [ 6 ] ];
  i = builtins.foldl' builtins.add 0 [ 1 2 3 ];
in
[ a b c d e f g h i ]
