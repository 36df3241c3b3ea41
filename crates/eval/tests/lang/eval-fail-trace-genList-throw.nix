builtins.genList (i: if i == 2 then throw "two" else i) 4
