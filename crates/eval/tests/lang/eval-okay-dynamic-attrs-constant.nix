# A dynamic attribute that is a constant string counts as static: it may be used in `let`
# and `inherit`, and a `rec` set's values see it.
let
  ${"a"} = 1;
  set = {
    b = 2;
    "c d" = 3;
  };
  attrs = rec {
    b = c;
    ${"c"} = d;
    d = a;
  };
in
{
  inherit ${"a"} attrs;
  inherit (set) ${"b"} ${"c d"};
  inherit (attrs) ${"d"};
}
