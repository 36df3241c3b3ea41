let
  f = { a }: a;
in
f { b = 1; }
