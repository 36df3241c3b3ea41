let
  deep = n: if n == 0 then null else { inner = deep (n - 1); };
in
builtins.tryEval (builtins.deepSeq (deep 200000) 1)
