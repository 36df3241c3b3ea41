builtins.listToAttrs [ { name = builtins.toFile "a" "b"; value = 1; } ]
