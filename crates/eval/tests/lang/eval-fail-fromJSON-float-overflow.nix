builtins.fromJSON "1E400"
