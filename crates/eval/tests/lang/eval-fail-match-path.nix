builtins.match "a" ./.
