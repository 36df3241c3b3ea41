builtins.listToAttrs [ null ]
