builtins.tryEval (builtins.hashString "blake3" "")
