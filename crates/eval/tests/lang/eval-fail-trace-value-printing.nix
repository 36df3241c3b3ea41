# A value in an error prints as Nix 2.26 prints it: 10 levels, 10 attributes and 10 items in all.
let
  deep = { a = { a = { a = { a = { a = { a = { a = { a = { a = { a = { a = 1; }; }; }; }; }; }; }; }; }; }; };
  shared = [ 1 ];
  v = { type = "t"; big = builtins.genList (x: x) 12; inherit deep; x = shared; y = shared; s = { zz = 1; _type = 2; }; };
in
builtins.deepSeq v (v + 1)
