(builtins.derivationStrict { name = "a"; builder = "b"; system = "s"; __contentAddressed = true; }).drvPath
