builtins.fetchurl "http://localhost:1/has space"
