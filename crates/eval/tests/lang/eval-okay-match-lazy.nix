builtins.isFunction (builtins.match "(")
