let
  f = x: x.a;
  g = y: f y;
in
g 1
