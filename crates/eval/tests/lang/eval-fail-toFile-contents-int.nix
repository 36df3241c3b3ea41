builtins.toFile "a" 1
