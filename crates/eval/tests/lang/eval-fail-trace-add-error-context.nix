builtins.addErrorContext "while doing the thing" (throw "it failed")
