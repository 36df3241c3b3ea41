# Integers as toString and interpolation write them, at both ends of the range.
let
  ints = [ 0 7 (-7) 10 (-10) 1000000 9223372036854775807 (-9223372036854775807 - 1) ];
in
  map toString ints ++ [ "${toString 42}-${toString (-3)}" (toString [ 1 (-2) 3 ]) ]
