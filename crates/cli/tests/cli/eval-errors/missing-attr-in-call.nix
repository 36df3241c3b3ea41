let
  g = x: x.y;
in
g { z = 1; }
