builtins.match "*a" "a"
