builtins.appendContext "x" 1
