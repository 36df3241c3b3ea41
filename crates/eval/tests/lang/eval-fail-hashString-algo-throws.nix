builtins.hashString (throw "the algorithm") "a"
