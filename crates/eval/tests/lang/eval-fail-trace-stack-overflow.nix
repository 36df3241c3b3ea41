let f = x: f (x + 1) + 1; in f 0
