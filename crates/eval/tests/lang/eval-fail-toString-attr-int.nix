"x${ { __toString = 1; } }"
