builtins.fromTOML "a.b.c = \"x\"\n\"q k\" = true\n'lit.key' = 1\n1234 = 2\nbare-key_1 = 3"
