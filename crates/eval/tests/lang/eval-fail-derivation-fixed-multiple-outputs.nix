(builtins.derivationStrict { name = "a"; builder = "b"; system = "s"; outputs = [ "out" "dev" ]; outputHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }).drvPath
