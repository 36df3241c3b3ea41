builtins.path { path = /kiln-test-no-such-path; }
