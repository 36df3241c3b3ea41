builtins.toXML { b = 1; a = { }; c.d.e = [ [ ] [ { } ] ]; "q k" = "v"; }
