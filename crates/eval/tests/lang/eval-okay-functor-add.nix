{ __functor = self: x: x + self.n; n = 10; } 5
