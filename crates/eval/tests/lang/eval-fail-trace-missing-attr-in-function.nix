let
  cfg = { enable = true; package = 1; };
  get = c: c.pakage;
in
get cfg
