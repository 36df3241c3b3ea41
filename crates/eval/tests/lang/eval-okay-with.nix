let a = 1; in with { a = 2; b = 3; }; with { b = 4; c = 5; }; [ a b c ]
