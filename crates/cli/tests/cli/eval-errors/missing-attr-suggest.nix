let
  s = { foo = 1; fob = 2; };
in
s.fooo
