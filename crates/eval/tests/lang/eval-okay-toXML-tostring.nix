builtins.toXML { __toString = x: "s"; a = 1; }
