map "f" [ 1 2 ]
