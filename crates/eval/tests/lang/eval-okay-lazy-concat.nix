builtins.length ([ (throw "x") ] ++ [ (abort "y") ])
