builtins.zipAttrsWith (n: vs: n + vs) [ { a = 1; } ]
