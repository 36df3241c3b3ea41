# `a->b` is `a-` > `b`: identifiers may contain `-`
a->b