# `f or` applies f to the variable `or` (nixpkgs had a function named `or`)
[ (x: x or) (f or 1) ]