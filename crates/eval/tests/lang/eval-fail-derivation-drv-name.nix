(builtins.derivationStrict { name = "a.drv"; builder = "b"; system = "s"; }).drvPath
