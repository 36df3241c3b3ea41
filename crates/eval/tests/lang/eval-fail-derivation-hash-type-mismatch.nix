(builtins.derivationStrict { name = "a"; builder = "b"; system = "s"; outputHashAlgo = "sha1"; outputHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }).drvPath
