with builtins; [ (match "(a)(b)?" "a") (match "([a-z]+)-([0-9]+)" "foo-12") (match "(a|ab)(.*)" "abc") (match "((a)|b)+" "ab") (match "()" "") (match "(x)|(y)" "y") ]
