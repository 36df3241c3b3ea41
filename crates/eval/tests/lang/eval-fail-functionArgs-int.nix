builtins.functionArgs 3
