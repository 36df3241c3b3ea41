builtins.toJSON { b = [ 1 2.5 null true "s\n" ]; a = { outPath = "/x"; }; c = { }; }
