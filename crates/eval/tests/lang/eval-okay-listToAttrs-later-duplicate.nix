builtins.listToAttrs [
  { name = "a"; value = 1; }
  { name = "a"; }
]
