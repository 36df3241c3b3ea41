builtins.readFileType /kiln-test-no-such-file
