with builtins; [ (split "" "") (split "" "ab") (split "x*" "ab") (split "a*" "baaac") (split "a*" "baa") (split "a?" "aa") ]
