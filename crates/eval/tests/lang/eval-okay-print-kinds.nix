[ null true false 1 1.5 "s" ./. (x: x) builtins.add (builtins.add 1) { } [ ] ]
