builtins.toXML [ 1 [ 2 [ 3 ] ] { } ]
