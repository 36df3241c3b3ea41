builtins.findFile [ { prefix = ""; path = toString ./findfile-root/other; } ] "../other/foo.nix"
