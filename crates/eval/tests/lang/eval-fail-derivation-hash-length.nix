(builtins.derivationStrict { name = "a"; builder = "b"; system = "s"; outputHashAlgo = "sha256"; outputHash = "abc"; }).drvPath
