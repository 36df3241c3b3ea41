./. + { outPath = "/x"; }
