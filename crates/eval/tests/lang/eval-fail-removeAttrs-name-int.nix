builtins.removeAttrs { } [ 1 ]
