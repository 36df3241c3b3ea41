(builtins.derivationStrict { name = "a"; builder = "b"; }).drvPath
