# A list holding a list, forever, made a string: a stack overflow, never a crash.
let
  f = n: [ (f (n + 1)) ];
in
toString (f 0)
