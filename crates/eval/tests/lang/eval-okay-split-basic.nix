with builtins; [ (split "," "a,b,c") (split "," "") (split "," ",") (split "x" "abc") (split "(,)" "a,b") ]
