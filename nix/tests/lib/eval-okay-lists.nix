# lib.lists, as nixpkgs 18.03 has them.
{ lib ? import <kiln/lib> }:
with lib;
{
  folds = [ (foldr (x: acc: "(${x}${acc})") "" [ "a" "b" "c" ]) (foldl (acc: x: "(${acc}${x})") "" [ "a" "b" "c" ]) (foldl' (a: b: a + b) 0 [ 1 2 3 ]) (fold (x: y: x + y) 0 [ 4 5 ]) ];
  indexed = [ (imap0 (i: x: "${toString i}${x}") [ "a" "b" ]) (imap1 (i: x: "${toString i}${x}") [ "a" "b" ]) ];
  shape = [ (flatten [ 1 [ 2 [ 3 [ ] ] ] 4 ]) (unique [ 3 1 3 2 1 ]) (remove 2 [ 1 2 3 2 ]) (reverseList [ 1 2 3 ]) (range 2 5) (range 5 2) (toList 1) (toList [ 1 ]) ];
  optional = [ (optional true 1) (optional false 1) (optionals true [ 1 2 ]) (optionals false [ 1 ]) (singleton "x") ];
  find = [ (findFirst (x: x > 2) null [ 1 3 5 ]) (findFirst (x: x > 9) "none" [ 1 ]) (findSingle (x: x == 1) "none" "many" [ 1 2 ]) (findSingle (x: x > 0) "none" "many" [ 1 2 ]) (count (x: x > 1) [ 1 2 3 ]) ];
  sub = [ (take 2 [ 1 2 3 ]) (drop 2 [ 1 2 3 ]) (sublist 1 2 [ 0 1 2 3 ]) (last [ 1 2 3 ]) (init [ 1 2 3 ]) (take 5 [ 1 ]) ];
  zip = [ (zipLists [ 1 2 ] [ "a" "b" "c" ]) (zipListsWith (a: b: a + b) [ 1 2 ] [ 10 20 ]) ];
  sets = [ (intersectLists [ 1 2 3 ] [ 2 3 4 ]) (subtractLists [ 2 ] [ 1 2 3 ]) (mutuallyExclusive [ 1 ] [ 2 ]) (mutuallyExclusive [ 1 ] [ 1 ]) ];
  sorted = [ (sort (a: b: a < b) [ 3 1 2 ]) (toposort (a: b: a < b) [ 3 1 2 ]) ];
  cross = crossLists (a: b: "${a}${b}") [ [ "x" "y" ] [ "1" "2" ] ];
  predicates = [ (all (x: x > 0) [ 1 2 ]) (any (x: x > 1) [ 1 2 ]) (elem 2 [ 1 2 ]) (partition (x: x > 1) [ 1 2 3 ]) ];
  concat = [ (concatMap (x: [ x x ]) [ 1 2 ]) (concatLists [ [ 1 ] [ 2 3 ] ]) (filter (x: x != 2) [ 1 2 3 ]) (genList (x: x * x) 4) ];
}
