builtins.toXML ./foo/bar
