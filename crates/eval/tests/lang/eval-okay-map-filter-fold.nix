[ (map (x: x * x) [ 1 2 3 ]) (builtins.filter (x: x > 1) [ 1 2 3 ]) (builtins.foldl' (a: b: a + b) 0 [ 1 2 3 4 ]) (builtins.genList (i: i * 2) 4) (builtins.concatMap (x: [ x x ]) [ 1 2 ]) ]
