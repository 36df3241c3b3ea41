builtins.toPath "rel"
