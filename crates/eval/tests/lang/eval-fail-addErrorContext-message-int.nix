builtins.addErrorContext 1 (throw "x")
