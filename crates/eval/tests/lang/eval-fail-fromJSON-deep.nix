builtins.fromJSON (builtins.concatStringsSep "" (builtins.genList (_: "[") 100000))
