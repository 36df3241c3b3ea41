with { x = 1; y = 3; }; with { x = 2; }; y
