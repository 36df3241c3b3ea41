builtins.fromTOML "top = 1\n[t]\nx = [1, \"a\", {b = 2}]\n[t.sub]\ny = []\n[[arr]]\ny = 1\n[[arr]]\ny = 2\n[[arr.inner]]\nz = 3"
