builtins.concatMap (x: "x${toString x}") [ 1 ]
