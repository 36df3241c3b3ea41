# `__overrides` in a `rec` set replaces attributes, in the set and in the scope its values
# see, and adds the ones the set lacks; a plain set or a `let` keeps it as an attribute.
let
  x = 7;
  overridden = rec {
    __overrides = {
      b = 3;
      added = b + 10;
    };
    a = b;
    b = 1;
    z = b;
    c = a + z;
    inherit x;
  };
  inheritedOverride = rec {
    __overrides.x = 4;
    inherit x;
    y = x;
  };
  plain = {
    __overrides.a = 2;
    a = 1;
  };
  inLet =
    let
      __overrides.a = 2;
      a = 1;
    in
    a;
  dynamic = rec {
    __overrides.q = 1;
    ${"r"} = 2;
  };
in
{
  inherit
    overridden
    inheritedOverride
    plain
    inLet
    dynamic
    ;
}
