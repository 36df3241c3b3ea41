[ ([ (throw "x") ] == [ 1 2 ]) ({ a = throw "x"; } == { b = 1; }) ]
