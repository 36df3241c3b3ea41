with builtins; [ (match "a" "a") (match "a" "ab") (match "b" "ab") (match "ab" "ab") (match "" "") (match "" "a") (match "^a$" "a") ]
