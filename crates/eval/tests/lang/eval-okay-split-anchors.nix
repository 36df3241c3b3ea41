with builtins; [ (split "$" "ab") (split "^" "ab") (split "^a" "aba") (split "a$" "aba") (split "b$|a" "abab") (split "a$|ab" "abab") ]
