"a" + null
