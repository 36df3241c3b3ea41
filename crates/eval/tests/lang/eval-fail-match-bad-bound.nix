builtins.match "a{3,2}" "aaa"
