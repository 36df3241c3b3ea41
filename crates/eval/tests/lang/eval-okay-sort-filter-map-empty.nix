[ (builtins.sort 1 [ ]) (builtins.filter 1 [ ]) (map 1 [ ]) ]
