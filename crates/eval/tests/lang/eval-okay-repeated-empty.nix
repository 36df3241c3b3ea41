let a = { }; l = [ ]; b = { x = 1; }; in [ a a l l b b { inherit a b; } ]
