builtins.hasContext (throw "no string")
