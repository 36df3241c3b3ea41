builtins.toXML { a = throw "inner"; }
