let r = toString ./findfile-root; in builtins.findFile [ { prefix = ""; path = "${r}/nixpkgs"; } { prefix = ""; path = "${r}/does-not-exist"; } { prefix = ""; path = "${r}/other"; } ] "foo.nix"
