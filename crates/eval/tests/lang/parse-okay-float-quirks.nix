# `1e3` is the integer 1 applied to `e3`; `01.5` is 01 applied to .5; `00.5` is 0 applied to 0.5
[ (f 1e3) (f 01.5) (f 00.5) ]