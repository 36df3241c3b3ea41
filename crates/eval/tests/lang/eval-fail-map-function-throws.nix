map (throw "the function") [ 1 ]
