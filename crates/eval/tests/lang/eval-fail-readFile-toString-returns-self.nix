builtins.readFile { __toString = self: self; }
