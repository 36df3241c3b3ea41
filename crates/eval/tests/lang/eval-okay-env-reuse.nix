# Call environments are reused when nothing captured them: values computed from one call must
# not change when a later call reuses its environment, and captured ones must stay intact.
let
  add = x: y: x + y;
  pair = x: y: [ x y ];
  inc = add 1;
  keep = x: { inherit x; get = _: x; };
  k1 = keep 1;
  k2 = keep 2;
  fib = n: if n < 2 then n else fib (n - 1) + fib (n - 2);
  strictThenCapture = n: if n < 0 then [ ] else { v = n; f = m: n + m; };
  sc = strictThenCapture (2 * 3);
  defaults = { a, b ? a + 1 }: [ a b ];
  failing = x: y: if y then throw "no" else x;
  caught = builtins.tryEval (failing 1 true);
  after = failing 5 false;
in
[
  (inc 2) (inc 3) (pair 1 2) (pair 3 4)
  (k1.get null) (k2.get null) k1.x
  (map (fib) [ 5 10 ])
  sc.v (sc.f 1)
  (defaults { a = 1; }) (defaults { a = 5; b = 0; })
  caught after
  (builtins.foldl' add 0 (builtins.genList (i: i * i) 10))
  (builtins.sort (a: b: a > b) [ 3 1 2 ])
  (map (f: f 10) (map add [ 1 2 3 ]))
]
