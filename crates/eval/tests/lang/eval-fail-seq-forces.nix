builtins.seq (throw "seq forced it") 1
