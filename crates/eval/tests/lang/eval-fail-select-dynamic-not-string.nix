# A dynamic attribute name that is not a string: the trace shows the variable.
let
  set = {
    inner.x = { };
  };
  name = 2;
in
set.inner.${name}
