builtins.split "a" (throw "the string")
