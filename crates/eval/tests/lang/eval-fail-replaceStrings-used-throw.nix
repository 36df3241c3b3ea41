builtins.replaceStrings ["a"] [(throw "used")] "abc"
