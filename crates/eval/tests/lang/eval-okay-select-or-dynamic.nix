let n = "x"; in [ ({ x = 1; }.${n} or 2) ({ }.${n} or 3) ]
