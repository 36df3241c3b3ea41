# foldl' over genList of 10^6: a builtin calling back into Nix a million times.
builtins.foldl' (acc: x: acc + x) 0 (builtins.genList (i: i * 2) 1000000)
