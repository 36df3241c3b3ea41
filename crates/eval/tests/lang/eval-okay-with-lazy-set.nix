let s = with s; { a = 1; b = a; }; in s.b
