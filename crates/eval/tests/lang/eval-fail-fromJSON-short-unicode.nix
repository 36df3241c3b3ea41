builtins.fromJSON "\"\\u12\""
