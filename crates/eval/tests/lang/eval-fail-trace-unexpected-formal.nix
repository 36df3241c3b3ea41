let
  f = { alpha, beta }: alpha;
in
f { alpha = 1; betta = 2; }
