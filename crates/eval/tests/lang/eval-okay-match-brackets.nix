with builtins; [ (match "[]a]+" "]a]") (match "[a-]+" "-a-") (match "[\\n]+" "\\n") (match "[^a]" "\n") (match "[a-c]+" "abcb") (match "[^]]" "]") (match "[.*+]+" ".*+") ]
