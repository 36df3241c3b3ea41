# sort of 10^5 pseudo-random integers, with lessThan and with a Nix comparator.
let
  n = 100000;
  xs = builtins.genList (i: (i * 7919 + 13) - ((i * 7919 + 13) / 100003) * 100003) n;
  a = builtins.sort builtins.lessThan xs;
  b = builtins.sort (x: y: x > y) xs;
in
  [ (builtins.head a) (builtins.head b) (builtins.elemAt a 50000) ]
