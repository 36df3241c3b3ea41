with builtins; map parseDrvName [ "hello-2.10" "hello-2.10-rc1" "foo-bar" "foo-1bar-2" "foo-" "" "nix-unstable-2024-01-01" "a-b-c-1.0" "foo--1" "foo-_1" ]
