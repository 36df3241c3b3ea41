builtins.fromJSON "-"
