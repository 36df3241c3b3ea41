# == on values of every pair of kinds the evaluator answers without a walk, and the ones it
# leaves to the general comparison.
let
  d = derivation { name = "d"; system = "x"; builder = "/b"; };
  f = x: x;
in
[
  (null == null) (null == { }) ({ } == null) (null == [ ]) (null != 0)
  ([ ] == [ ]) ([ ] == [ 1 ]) ([ 1 ] == [ ]) ([ ] != [ ]) ([ [ ] ] == [ [ ] ])
  ("a" == "a") ("a" == "b") ("${d}" == d.outPath) (true == true) (true == 1) (false == null)
  (1 == 1.0) (1 == "1") ({ a = 1; } == { a = 1; }) ({ } == [ ]) ([ f ] == [ f ]) (f == f)
  (d == d) (./. == ./.) (./. == "/pwd")
]
