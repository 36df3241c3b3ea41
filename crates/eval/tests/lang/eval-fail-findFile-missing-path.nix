builtins.findFile [ { prefix = ""; } ] "foo"
