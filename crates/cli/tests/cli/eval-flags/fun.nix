{ a ? 1, b, c ? "x" }: { sum = a + b; c = c; l = [ { x = 1; } (y: y) ]; f = { d }: d; g = x: x; }
