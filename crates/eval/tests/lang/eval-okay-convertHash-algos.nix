with builtins; map (a: convertHash { hash = hashString a "x"; hashAlgo = a; toHashFormat = "sri"; }) [ "md5" "sha1" "sha256" "sha512" ]
