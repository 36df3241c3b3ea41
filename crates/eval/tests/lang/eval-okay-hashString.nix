with builtins; map (a: [ (hashString a "") (hashString a "hello") (hashString a "é日本") ]) [ "md5" "sha1" "sha256" "sha512" ]
