map builtins.toXML [ 1 (-5) true false null 1.5 0.1 123456789.0 1.0e20 1.0e-5 "s" "" ]
