with builtins; [ (match "a|" "a") (match "a|" "") (match "cat|dog" "dog") (match "(cat|dog)s?" "cats") (match "a|b|c" "d") ]
