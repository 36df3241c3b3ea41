# Arguments computed at the call for functions that force their parameter first: the values
# must be those the thunks would have had, and anything that could fail is left to fail
# where it did.
let
  depth = p: if p.deps == [ ] then 0 else 1 + depth (builtins.head p.deps);
  leaf = { deps = [ ]; };
  chain = { deps = [ { deps = [ leaf ]; } ]; };
  sum = n: if n == 0 then 0 else n + sum (n - 1);
  safe = x: if x == null then "null" else x;
  missing = builtins.tryEval (let f = p: if p == 1 then 1 else 2; in f ({ }.a or (throw "no")));
in
[ (depth chain) (sum 100) (safe chain.deps) (safe leaf.deps.x or "no") missing
  (let f = x: if x then 1 else 2; in f (1 < 2)) ]
