# `e ? a.b` forces the values on the path but not the last one: an attribute may ask whether
# it exists itself (as lib.fix-style self references do), and a failing value still "exists".
let
  x = {
    a = if x ? a then "a" else "b";
  };
  fix = f: let self = f self; in self;
in
[
  x.a
  (fix (self: { a = if self ? a then "a" else "b"; })).a
  ({ a = throw "unforced"; } ? a)
  ({ a = { b = abort "unforced"; }; } ? a.b)
  ({ a = 1; } ? a.b)
  (builtins.hasAttr "a" { a = throw "unforced"; })
]
