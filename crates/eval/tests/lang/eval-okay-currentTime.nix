# currentTime is an integer, the same every time it is read in one evaluation.
let t = builtins.currentTime; in [ (builtins.isInt t) (t > 1600000000) (t == builtins.currentTime) ]
