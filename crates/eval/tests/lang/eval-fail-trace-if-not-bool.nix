let
  f = x: if x then 1 else 2;
in
f "yes"
