builtins.fromTOML "s = \"\"\"\nmulti\nline\"\"\"\nu = \"\\u00e9\\U0001F600\"\ne = \"tab\\there\"\nl = '''\nraw \\n\n'''"
