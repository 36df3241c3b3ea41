# An error inside a builtin called with all its arguments at once keeps Nix's frames.
builtins.elemAt [ 1 ] (builtins.add 1 "x")
