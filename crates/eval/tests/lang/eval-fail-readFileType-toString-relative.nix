builtins.readFileType { __toString = self: "rel"; }
