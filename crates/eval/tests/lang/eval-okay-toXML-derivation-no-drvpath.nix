builtins.toXML [ { type = "derivation"; } { type = "derivation"; drvPath = 1; outPath = "/o"; } ]
