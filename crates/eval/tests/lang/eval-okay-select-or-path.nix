{ a.b.c = 1; }.a.b.d or 5
