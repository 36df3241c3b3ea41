builtins.replaceStrings [ "a" ] [ ] 1
