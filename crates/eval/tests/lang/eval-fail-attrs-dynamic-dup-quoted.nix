let n = "a b"; in { ${n} = 1; ${n} = 2; }
