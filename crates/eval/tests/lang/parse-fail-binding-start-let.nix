let
  1 = x;
in
x
