builtins.mapAttrs (n: v: v + "x") { a = 1; }
