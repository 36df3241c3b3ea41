let a = "x"; in "${"${a}y"}z"
