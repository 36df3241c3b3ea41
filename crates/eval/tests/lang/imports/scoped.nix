{ inherit x; y = builtins.length [ 1 2 ]; z = map (v: v + x) [ 1 2 ]; t = toString 5; }
