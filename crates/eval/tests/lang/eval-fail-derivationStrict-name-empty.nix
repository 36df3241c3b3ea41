builtins.derivationStrict { name = ""; builder = "b"; system = "s"; }
