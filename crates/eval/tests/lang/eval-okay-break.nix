builtins.break { a = 1; }
