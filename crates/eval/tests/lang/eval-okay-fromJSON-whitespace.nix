builtins.fromJSON " \t\n\r[ 1 ,\n2 ]\n"
