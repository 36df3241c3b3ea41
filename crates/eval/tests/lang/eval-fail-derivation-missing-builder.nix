(builtins.derivationStrict { name = "a"; system = "s"; }).drvPath
