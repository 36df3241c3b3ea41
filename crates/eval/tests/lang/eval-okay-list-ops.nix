[ ([ 1 2 ] ++ [ 3 ]) ([ ] ++ [ ]) (builtins.length [ 1 2 3 ]) (builtins.head [ 4 5 ]) (builtins.tail [ 4 5 6 ]) (builtins.elemAt [ 7 8 9 ] 1) (builtins.elem 2 [ 1 2 ]) ]
