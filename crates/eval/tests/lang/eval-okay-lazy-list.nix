let l = [ 1 (throw "unused") (abort "unused") ]; in builtins.head l
