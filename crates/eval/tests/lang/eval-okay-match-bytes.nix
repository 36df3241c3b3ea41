with builtins; [ (match "." "é") (match ".." "é") (match "é+" "éé") (match "." "\n") (match "a.c" "a\nc") (match "(.*)" "日本") ]
