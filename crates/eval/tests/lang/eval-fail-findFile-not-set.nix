builtins.findFile [ 1 ] "foo"
