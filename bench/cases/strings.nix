# String building: interpolation, toString and concatStringsSep over 10^5 pieces.
let
  pieces = builtins.genList (i: "item-${toString i}-${toString (i * i)}") 100000;
  joined = builtins.concatStringsSep ", " pieces;
in
  builtins.stringLength joined
