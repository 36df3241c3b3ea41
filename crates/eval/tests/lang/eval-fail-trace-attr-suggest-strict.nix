{ a = { foo = 1; }.fo; }
