let x = throw "t"; r = builtins.tryEval x; in [ r (builtins.tryEval x) ]
