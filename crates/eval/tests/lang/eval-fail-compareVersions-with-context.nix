builtins.compareVersions "1" "${builtins.toFile "a" "b"}"
