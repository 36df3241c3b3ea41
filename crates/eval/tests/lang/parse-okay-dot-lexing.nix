# A `.` is a selection unless it starts `...`, a float or a path (also after a `)`).
let a = 1; x = 2; b = 3; in
[ ((a).b/c) (x.a.b or 3) ((x).a.b/c) (a . b) (x.1) (x.a/b) (x ./a) (x.a.b.c.d) [.5 .5e2 ./a ../b .a/b] ({ ... }: 1) (1.5.a) ]
