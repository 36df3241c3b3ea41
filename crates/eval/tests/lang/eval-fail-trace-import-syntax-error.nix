import ./imports/syntax-error.nix
