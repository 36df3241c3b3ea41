let s = { a = s; b = 1; }; in builtins.deepSeq s s.b
