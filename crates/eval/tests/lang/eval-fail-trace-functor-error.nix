let
  f = { __functor = self: x: x.missing; };
in
f { }
