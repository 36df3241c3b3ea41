builtins.toFile "a/b" "contents"
