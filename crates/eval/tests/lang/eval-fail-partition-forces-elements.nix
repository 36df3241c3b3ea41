builtins.length (builtins.partition (x: true) [ (throw "partition forced me") ]).right
