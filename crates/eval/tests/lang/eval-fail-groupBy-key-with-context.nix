builtins.groupBy (x: builtins.toFile "a" "b") [ 1 ]
