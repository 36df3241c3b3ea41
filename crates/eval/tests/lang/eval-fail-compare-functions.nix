(x: x) < (y: y)
