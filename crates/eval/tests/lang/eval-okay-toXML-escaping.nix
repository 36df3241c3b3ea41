builtins.toXML "x<&>\"'\n\té\r"
