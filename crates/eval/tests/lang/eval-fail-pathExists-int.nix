builtins.pathExists 5
