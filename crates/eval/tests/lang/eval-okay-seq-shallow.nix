builtins.seq { a = throw "x"; } 1
