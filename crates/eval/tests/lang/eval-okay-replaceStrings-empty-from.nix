with builtins; [ (replaceStrings [""] ["-"] "abc") (replaceStrings [""] ["-"] "") (replaceStrings ["" "a"] ["X" "Y"] "abc") (replaceStrings ["a" ""] ["X" "Y"] "abc") ]
