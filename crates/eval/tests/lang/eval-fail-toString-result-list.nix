"x${ { __toString = s: [ "a" ]; } }"
