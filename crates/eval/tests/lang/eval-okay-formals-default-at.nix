({ a ? args, ... }@args: a.c) { c = 3; }
