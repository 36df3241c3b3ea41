builtins.match "{" "{"
