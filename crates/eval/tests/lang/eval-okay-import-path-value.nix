(import ./imports/lib.nix).relative
