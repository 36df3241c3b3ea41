builtins.fromTOML "a = 1979-05-27"
