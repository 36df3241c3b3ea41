let length = 5; in with builtins; length
