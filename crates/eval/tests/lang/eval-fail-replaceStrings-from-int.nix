builtins.replaceStrings [1] ["x"] "abc"
