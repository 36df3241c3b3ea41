import ../lib.nix
