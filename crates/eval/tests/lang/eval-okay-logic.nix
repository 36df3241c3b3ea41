[ (true && false) (true || false) (false -> true) (!true) (true -> false) (false && throw "no") (true || throw "no") ]
