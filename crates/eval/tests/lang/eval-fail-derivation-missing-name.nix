(builtins.derivationStrict { builder = "b"; system = "s"; }).drvPath
