builtins.fromJSON "\"\\udc00\""
