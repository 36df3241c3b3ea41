let
  pos = __curPos;
in {
  inherit pos;
  attrPos = builtins.unsafeGetAttrPos "y" { x = 1;
    y = 2; };
  missing = builtins.unsafeGetAttrPos "z" { };
  nested = builtins.unsafeGetAttrPos "b" { a.b = 1; }.a;
  deeper = builtins.unsafeGetAttrPos "c" {   x.${"b"}.c = 1; }.x.b;
  merged = builtins.unsafeGetAttrPos "d" ({ a = { }; a.d = 1; }.a);
  dynamic = builtins.unsafeGetAttrPos "q" { ${"q"} = 1; };
}
