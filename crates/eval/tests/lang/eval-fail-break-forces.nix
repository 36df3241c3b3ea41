builtins.break (throw "broken")
