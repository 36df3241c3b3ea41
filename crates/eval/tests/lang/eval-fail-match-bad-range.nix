builtins.match "[b-a]" "a"
