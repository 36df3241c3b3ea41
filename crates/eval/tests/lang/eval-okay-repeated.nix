let x = [ 1 ]; y = { a = 1; }; in [ x x y y ]
