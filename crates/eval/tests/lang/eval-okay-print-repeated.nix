let x = [ 1 ]; y = { a = 1; }; in { a = [ x x ]; b = y; c = y; }
