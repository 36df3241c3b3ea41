builtins.fromJSON "{ bad"
