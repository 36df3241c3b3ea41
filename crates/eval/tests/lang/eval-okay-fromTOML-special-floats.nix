builtins.fromTOML "a = inf\nb = -inf\nc = nan\nd = +inf"
