builtins.readFile "relative/file"
