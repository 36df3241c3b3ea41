builtins.findFile [ ] "foo"
