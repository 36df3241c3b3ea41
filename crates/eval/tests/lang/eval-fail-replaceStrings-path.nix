builtins.replaceStrings ["a"] ["x"] ./.
