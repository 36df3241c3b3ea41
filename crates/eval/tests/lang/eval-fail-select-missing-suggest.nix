let s = { foo = 1; fob = 2; bar = 3; }; in s.fooo
