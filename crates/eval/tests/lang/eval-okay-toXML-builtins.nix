builtins.toXML [ builtins.map (builtins.add 1) builtins.toXML ]
