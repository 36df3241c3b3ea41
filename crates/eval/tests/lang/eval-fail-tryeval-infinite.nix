let x = x + 1; in builtins.tryEval x
