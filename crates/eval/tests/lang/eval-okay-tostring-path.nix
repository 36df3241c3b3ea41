toString ./foo
