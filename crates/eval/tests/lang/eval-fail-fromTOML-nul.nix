builtins.fromTOML "a = \"\\u0000\""
