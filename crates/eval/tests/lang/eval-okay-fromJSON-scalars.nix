map builtins.fromJSON [ "null" "true" "false" "0" "-0" "42" "-17" "1.5" "-0.0" "1.5e3" "1E2" "0.1" "1e-400" " 7 " "\"\"" "\"x\"" ]
