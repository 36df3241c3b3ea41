builtins.genList null 0
