builtins.hashFile "sha3" ./eval-fail-hashFile-unknown-algo.nix
