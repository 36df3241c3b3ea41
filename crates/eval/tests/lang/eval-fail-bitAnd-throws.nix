builtins.bitAnd 1 (throw "the second")
