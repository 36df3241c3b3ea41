# «repeated» as current Nix decides it: a set or a list of three or more elements is the same
# wherever it is copied; a list of one or two elements lives in the value that holds it, so
# only the same cell (a shared thunk or variable) repeats it.
let
  x = [ x ];
  small = [ 1 2 ];
  big = [ 1 2 3 ];
  alias = small;
  set = { a = 1; };
  f = l: l;
in
[
  x
  (let y = [ y ]; in y)
  [ small small alias ]
  [ big big (f big) ]
  [ (f small) (builtins.head [ small ]) ]
  [ set set (set // { }) ]
]
