let a = 1; f = a: a; in f 2
