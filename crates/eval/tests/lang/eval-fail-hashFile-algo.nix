builtins.hashFile "crc32" ./hashing-hello.txt
