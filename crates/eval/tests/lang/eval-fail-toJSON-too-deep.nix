let
  deep = n: if n == 0 then null else [ (deep (n - 1)) ];
in
builtins.toJSON (deep 200000)
