builtins.convertHash "sha256:abc"
