builtins.concatStringsSep ", " [ "a" { } ]
