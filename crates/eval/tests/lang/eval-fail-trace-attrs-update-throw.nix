{ a = 1; } // (throw "not a set")
