builtins.hashFile "sha256" ./hashing-does-not-exist
