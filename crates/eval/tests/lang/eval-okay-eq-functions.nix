let f = x: x; in [ ((x: x) == (x: x)) (f == f) ([ f ] == [ f ]) ({ a = f; } == { a = f; }) (builtins.elem f [ f ]) ]
