builtins.derivationStrict { name = "a b"; builder = "b"; system = "s"; }
