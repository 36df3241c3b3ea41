# `//` with shadowed, interleaved and one-sided names (its result is sized before it is
# merged), and builtins applied to all their arguments at once, and to more (the result
# applied to the rest), which are called without partial applications in between.
let
  a = { a = 1; c = 3; e = 5; g = 7; };
  b = { b = 20; c = 30; f = 60; g = 70; h = 80; };
  fs = [ (x: x * 2) (x: y: x + y) ];
in {
  merged = a // b;
  left = a // { };
  right = { } // b;
  chain = a // b // { a = 100; z = 26; };
  same = a // a;
  extra1 = builtins.elemAt fs 0 21;
  extra2 = builtins.elemAt fs 1 40 2;
  full = builtins.foldl' (acc: x: acc + x) 0 [ 1 2 3 ];
  partial = let f = builtins.elemAt fs; in f 0 5;
  mapped = map (x: x + 1) [ 1 2 3 ];
  lazyArgs = builtins.length (builtins.filter (x: x) [ true false true ]);
  unforced = builtins.elem 2 [ 1 2 (throw "not reached") ];
}
