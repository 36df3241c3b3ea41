[ (toString 1) (toString 1.5) (toString true) (toString false) (toString null) (toString [ 1 [ 2 "x" ] null ]) (toString "s") (toString { __toString = s: "t"; }) ]
