let n = "a"; s = { a.b = 1; c = 2; }; in [ (s ? a) (s ? a.b) (s ? a.x) (s ? ${n}) (s ? ${n}.b) (s ? "c") (1 ? a) (s ? c.d) ]
