builtins.toXML { type = "derivation"; name = "n"; outPath = "/nix/store/x"; drvPath = "/nix/store/y.drv"; a = 1; }
