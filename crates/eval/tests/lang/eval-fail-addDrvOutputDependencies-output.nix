builtins.addDrvOutputDependencies (builtins.appendContext "x" { "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-bar.drv" = { outputs = [ "out" ]; }; })
