builtins.toFile "x y" "${builtins.toFile "x" "y"}"
