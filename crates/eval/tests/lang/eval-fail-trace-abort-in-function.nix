let
  check = x: if x > 1 then abort "too big: ${toString x}" else x;
in
check 2
