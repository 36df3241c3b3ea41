with builtins; [ (split "a|ab" "abc") (split "ab|a" "abc") (split "a|ab|abc" "xabcx") (split "[0-9]+|[0-9]+[.][0-9]+" "v1.23x") ]
