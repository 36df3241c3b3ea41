with builtins; [ (match "a$b" "ab") (match "(a$|ab)b" "abb") (match "a^" "a") (match "(^a)" "a") ]
