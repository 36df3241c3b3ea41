fetchTree "path:/kiln-no-such-dir"
