builtins.elemAt [ 1 ] 5
