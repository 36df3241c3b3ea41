builtins.compareVersions 1 "1"
