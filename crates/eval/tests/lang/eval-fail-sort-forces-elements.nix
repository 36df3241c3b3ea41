builtins.length (builtins.sort (a: b: false) [ 1 (throw "sort forced me") ])
