let
  a = 1; # comment
  b = ''
    x
  '';
in
  [ a b ]
