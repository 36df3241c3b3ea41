builtins.findFile [ { prefix = "np"; path = toString ./findfile-root/nixpkgs; } ] "npx/lib"
