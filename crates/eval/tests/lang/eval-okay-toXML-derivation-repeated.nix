let d = { type = "derivation"; drvPath = "/y"; x = d; }; in builtins.toXML [ d d ]
