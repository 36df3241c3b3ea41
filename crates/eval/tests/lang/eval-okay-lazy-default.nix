({ a, b ? throw "default not used" }: a) { a = 1; }
