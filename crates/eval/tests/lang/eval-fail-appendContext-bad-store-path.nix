builtins.appendContext "x" { "/nix/store/bad" = { path = true; }; }
