builtins.hashFile "sha256" "hashing-hello.txt"
