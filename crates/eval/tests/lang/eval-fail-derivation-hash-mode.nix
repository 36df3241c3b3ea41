(builtins.derivationStrict { name = "a"; builder = "b"; system = "s"; outputHashMode = "foo"; outputHash = "x"; }).drvPath
