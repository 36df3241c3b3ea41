builtins.toJSON [ (builtins.add 1) ]
