builtins.toFile "x" "${derivation { name = "a"; builder = "b"; system = "s"; }}"
