let n = 300; in builtins.match (builtins.concatStringsSep "" (builtins.genList (_: "(") n ++ builtins.genList (_: ")") n)) ""
