let
  g = x: x.y;
in
builtins.map g [ { } ]
