let
  name = x: x;
in
"hello ${name}"
