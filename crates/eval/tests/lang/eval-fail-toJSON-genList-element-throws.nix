builtins.toJSON (builtins.genList (x: if x == 2 then throw "two" else x) 3)
