builtins.fromTOML "# comment\na = 1 # trailing\n\n[b] # table\n"
