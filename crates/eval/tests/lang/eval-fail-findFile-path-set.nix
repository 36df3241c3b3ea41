builtins.findFile [ { path = { }; } ] "x"
