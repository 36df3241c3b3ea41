builtins.convertHash { hash = "foo:abc"; toHashFormat = "sri"; }
