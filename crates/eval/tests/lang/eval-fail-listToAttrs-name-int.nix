builtins.listToAttrs [
  { name = "a"; value = 1; }
  { name = 2; value = 2; }
]
