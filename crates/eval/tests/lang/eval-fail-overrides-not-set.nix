# `__overrides` must be a set; it is forced when the `rec` set is built.
(rec {
  __overrides = 1;
  a = 2;
}).a
