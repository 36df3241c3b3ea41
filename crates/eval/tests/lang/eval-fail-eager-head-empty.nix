let f = x: if x == 1 then 1 else 2; in f (builtins.head [ ])
