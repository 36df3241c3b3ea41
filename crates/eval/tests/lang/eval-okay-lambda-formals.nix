let f = { a, b ? a * 10, ... }@args: [ a b (args.c or "none") ]; in [ (f { a = 1; }) (f { a = 1; b = 2; c = 3; }) ]
