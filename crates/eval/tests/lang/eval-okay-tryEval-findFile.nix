# A search path lookup that finds nothing throws: `tryEval` catches it.
[
  (builtins.tryEval <kiln-surely-not-in-the-search-path>).success
  (builtins.tryEval (builtins.findFile [ ] "nothing")).success
]
