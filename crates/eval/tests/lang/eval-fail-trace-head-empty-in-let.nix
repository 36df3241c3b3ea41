let
  xs = [ ];
  first = builtins.head xs;
in
first + 1
