builtins.all (x: x) [ true "yes" ]
