builtins.filter "f" 3
