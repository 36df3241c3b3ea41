let x = { a = 1; }; in x.b.c
