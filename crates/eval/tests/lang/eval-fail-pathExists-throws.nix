builtins.pathExists (throw "the path")
