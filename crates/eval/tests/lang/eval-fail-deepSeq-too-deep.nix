let
  deep = n: if n == 0 then null else { inner = deep (n - 1); };
in
builtins.deepSeq (deep 200000) "too deep"
