builtins.convertHash { hash = "sha256:2cf2"; toHashFormat = "sri"; }
