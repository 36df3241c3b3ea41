builtins.toPath 1
