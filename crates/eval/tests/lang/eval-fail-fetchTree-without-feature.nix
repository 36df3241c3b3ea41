builtins.fetchTree { type = "file"; url = "file:///kiln-no-such-file"; }
