builtins.hashString "sha256" (builtins.concatStringsSep "" (builtins.genList (i: "abcdefghij") 1000))
