builtins.readFile /kiln-test-no-such-file
