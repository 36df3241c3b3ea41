let
  even = n: if n == 0 then true else odd (n - 1);
  odd = n: if n == 0 then throw "odd reached zero" else even (n - 1);
in
even 3
