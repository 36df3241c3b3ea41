builtins.filter (x: x) [ 0 ]
