# `x:x` is a URI, not a function
x:x