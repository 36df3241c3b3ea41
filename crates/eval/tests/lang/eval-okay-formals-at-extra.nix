({ a, ... }@args: args) { a = 1; c = 2; }
