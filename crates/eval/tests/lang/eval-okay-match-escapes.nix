with builtins; [ (match "\\." ".") (match "\\." "a") (match "\\(\\)\\[\\{" "()[{") (match "\\*\\+\\?\\|\\^\\$\\\\" "*+?|^$\\") (match "}" "}") (match "]" "]") ]
