[ (builtins.bitAnd 12 10) (builtins.bitOr 12 10) (builtins.bitXor 12 10) (builtins.ceil 1.2) (builtins.floor (-1.2)) ]
