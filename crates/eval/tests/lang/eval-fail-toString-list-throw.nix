toString [ 1 (throw "in the list") ]
