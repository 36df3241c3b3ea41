builtins.getAttr (builtins.toFile "a" "b") { }
