let a = 1; b = a + c; c = 10; in { inherit a b; d = let a = 2; in a + b; }
