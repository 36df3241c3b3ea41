with { a = 1; }; rec { b = a; a = 2; c = a; }
