{ value = 1; relative = ./lib.nix; sub = import ./sub/inner.nix; }
