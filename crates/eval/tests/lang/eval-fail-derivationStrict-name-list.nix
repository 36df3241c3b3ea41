builtins.derivationStrict { name = [ ]; }
