let add = a: b: c: a + b + c; p = add 1; in [ (p 2 3) (add 1 2 3) ]
