builtins.fromTOML { }
