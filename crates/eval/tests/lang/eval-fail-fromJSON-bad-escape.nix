builtins.fromJSON " \"a\\x\""
