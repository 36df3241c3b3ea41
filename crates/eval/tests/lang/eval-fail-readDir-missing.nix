builtins.readDir /kiln-test-no-such-directory
