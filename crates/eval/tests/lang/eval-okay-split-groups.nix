with builtins; [ (split "(a)|b" "xaybz") (split "(a)(b)?" "ab a") (split "([[:upper:]])([0-9]*)" "aB12cD") ]
