builtins.elem 1 1
