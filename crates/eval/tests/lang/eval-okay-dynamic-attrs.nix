let n = "dyn"; in { ${n} = 1; "${n}2" = 2; ${null} = 3; static = 4; }
