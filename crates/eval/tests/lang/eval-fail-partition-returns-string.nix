builtins.partition (x: "no") [ 1 ]
