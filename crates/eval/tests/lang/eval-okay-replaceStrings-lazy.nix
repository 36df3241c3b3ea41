builtins.replaceStrings ["a" "z"] ["b" (throw "not used")] "banana"
