# Functions on lists (nixpkgs' `lib.lists` names and semantics).
{ lib }:
let
  inherit (builtins) length elemAt head tail filter concatLists concatMap foldl' genList
    sort elem isList;
in
rec {
  inherit (builtins) head tail length isList elemAt concatLists filter elem genList map
    concatMap foldl' partition groupBy all any sort;
  singleton = x: [ x ];
  forEach = xs: f: map f xs;
  foldr = op: nul: list:
    let
      len = length list;
      go = n: if n == len then nul else op (elemAt list n) (go (n + 1));
    in go 0;
  fold = foldr;
  foldl = op: nul: list:
    let go = n: if n == -1 then nul else op (go (n - 1)) (elemAt list n);
    in go (length list - 1);
  ifoldr = op: nul: list:
    let
      len = length list;
      go = n: if n == len then nul else op n (elemAt list n) (go (n + 1));
    in go 0;
  imap0 = f: list: genList (n: f n (elemAt list n)) (length list);
  imap1 = f: list: genList (n: f (n + 1) (elemAt list n)) (length list);
  ifilter0 = ipred: input: map (i: elemAt input i) (filter (i: ipred i (elemAt input i)) (genList (x: x) (length input)));
  flatten = x: if isList x then concatMap flatten x else [ x ];
  remove = e: filter (x: x != e);
  findSingle = pred: default: multiple: list:
    let found = filter pred list; n = length found;
    in if n == 0 then default else if n != 1 then multiple else head found;
  findFirstIndex = pred: default: list:
    let
      len = length list;
      go = n: if n == len then default else if pred (elemAt list n) then n else go (n + 1);
    in go 0;
  findFirst = pred: default: list:
    let i = findFirstIndex pred null list;
    in if i == null then default else elemAt list i;
  count = pred: foldl' (c: x: if pred x then c + 1 else c) 0;
  optional = cond: elem: if cond then [ elem ] else [ ];
  optionals = cond: elems: if cond then elems else [ ];
  toList = x: if isList x then x else [ x ];
  range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);
  replicate = n: elem: genList (_: elem) n;
  groupBy' = op: nul: pred: lst:
    builtins.mapAttrs (name: foldl' op nul) (builtins.groupBy pred lst);
  zipListsWith = f: fst: snd:
    genList (n: f (elemAt fst n) (elemAt snd n)) (lib.trivial.min (length fst) (length snd));
  zipLists = zipListsWith (fst: snd: { inherit fst snd; });
  reverseList = xs: let l = length xs; in genList (n: elemAt xs (l - n - 1)) l;
  listDfs = stopOnCycles: before: list:
    let
      dfs' = us: visited: rest:
        let
          c = filter (x: before x us) visited;
          b = partition (x: before x us) rest;
        in if stopOnCycles && (length c > 0)
          then { cycle = us; loops = c; inherit visited rest; }
          else if length b.right == 0
            then { minimal = us; inherit visited rest; }
            else dfs' (head b.right) ([ us ] ++ visited) (tail b.right ++ b.wrong);
    in dfs' (head list) [ ] (tail list);
  toposort = before: list:
    let
      dfsthis = listDfs true before list;
      toporest = toposort before (dfsthis.visited ++ dfsthis.rest);
    in
    if length list < 2 then { result = list; }
    else if dfsthis ? cycle then { cycle = reverseList ([ dfsthis.cycle ] ++ dfsthis.visited); inherit (dfsthis) loops; }
    else if toporest ? cycle then toporest
    else { result = [ dfsthis.minimal ] ++ toporest.result; };
  sortOn = f: list:
    map (p: p.v) (sort (a: b: a.k < b.k) (map (v: { inherit v; k = f v; }) list));
  compareLists = cmp: a: b:
    if a == [ ] then (if b == [ ] then 0 else -1)
    else if b == [ ] then 1
    else let rel = cmp (head a) (head b); in if rel == 0 then compareLists cmp (tail a) (tail b) else rel;
  naturalSort = lst:
    let
      vectorise = s: map (x: if isList x then lib.strings.toInt (head x) else x) (builtins.split "(0|[1-9][0-9]*)" s);
      prepared = map (x: [ (vectorise x) x ]) lst;
      less = a: b: (compareLists lib.trivial.compare (head a) (head b)) < 0;
    in map (x: elemAt x 1) (sort less prepared);
  take = count: sublist 0 count;
  drop = count: list: sublist count (length list) list;
  takeEnd = n: xs: drop (lib.trivial.max 0 (length xs - n)) xs;
  dropEnd = n: xs: take (lib.trivial.max 0 (length xs - n)) xs;
  hasPrefix = list1: list2: take (length list1) list2 == list1;
  removePrefix = list1: list2:
    if hasPrefix list1 list2 then drop (length list1) list2
    else throw "lib.lists.removePrefix: First argument is not a list prefix of the second argument";
  sublist = start: count: list:
    let
      len = length list;
      n = if start >= len then 0 else if start + count > len then len - start else count;
    in genList (i: elemAt list (i + start)) (lib.trivial.max 0 n);
  commonPrefix = list1: list2:
    let
      len = lib.trivial.min (length list1) (length list2);
      i = findFirstIndex (n: elemAt list1 n != elemAt list2 n) len (genList (x: x) len);
    in take i list1;
  last = list: assert lib.trivial.throwIf (list == [ ]) "lists.last: list must not be empty!" true; elemAt list (length list - 1);
  init = list: assert lib.trivial.throwIf (list == [ ]) "lists.init: list must not be empty!" true; take (length list - 1) list;
  crossLists = f: foldl (fs: args: concatMap (f: map f args) fs) [ f ];
  cartesianProduct = attrsOfLists:
    foldl' (listOfAttrs: attrName:
      concatMap (attrs: map (listValue: attrs // { ${attrName} = listValue; }) attrsOfLists.${attrName}) listOfAttrs
    ) [ { } ] (builtins.attrNames attrsOfLists);
  unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
  uniqueStrings = list: builtins.attrNames (builtins.groupBy lib.trivial.id list);
  allUnique = list: length (unique list) == length list;
  intersectLists = e: filter (x: elem x e);
  subtractLists = e: filter (x: !(elem x e));
  mutuallyExclusive = a: b: length a == 0 || !(any (x: elem x a) b);
}
