{ a = { b = 1; }.b; c = { }.d or 5; e = (1).f or 6; g = { h = { }; }.h.i.j or 7; }
