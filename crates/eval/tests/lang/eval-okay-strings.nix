[ "a\"b\\c" "tab\there" "nl\nx" "dollar \${x}" "$" "a$b" "\r" ]
