import ./imports/does-not-exist.nix
