# Functions on attribute sets (nixpkgs' `lib.attrsets` names and semantics).
{ lib }:
let
  inherit (builtins) head tail length isAttrs attrNames attrValues listToAttrs mapAttrs
    filter concatMap elemAt foldl' hasAttr getAttr intersectAttrs removeAttrs isList;
in
rec {
  inherit (builtins) attrNames attrValues listToAttrs mapAttrs hasAttr getAttr isAttrs
    intersectAttrs removeAttrs catAttrs zipAttrsWith;
  attrByPath = attrPath: default: set:
    let
      len = length attrPath;
      go = n: s:
        if n == len then s
        else let name = elemAt attrPath n; in
          if isAttrs s && s ? ${name} then go (n + 1) s.${name} else default;
    in go 0 set;
  hasAttrByPath = attrPath: e:
    let
      len = length attrPath;
      go = n: s:
        n == len || (let name = elemAt attrPath n; in isAttrs s && s ? ${name} && go (n + 1) s.${name});
    in go 0 e;
  longestValidPathPrefix = attrPath: v:
    let
      len = length attrPath;
      go = n: s:
        if n == len then attrPath
        else let name = elemAt attrPath n; in
          if isAttrs s && s ? ${name} then go (n + 1) s.${name} else lib.lists.take n attrPath;
    in go 0 v;
  setAttrByPath = attrPath: value:
    let
      len = length attrPath;
      go = n: if n == len then value else { ${elemAt attrPath n} = go (n + 1); };
    in go 0;
  getAttrFromPath = attrPath: set:
    let
      len = length attrPath;
      go = n: s:
        if n == len then s
        else let name = elemAt attrPath n; in
          if isAttrs s && s ? ${name} then go (n + 1) s.${name}
          else throw "cannot find attribute `${lib.strings.concatStringsSep "." attrPath}'";
    in go 0 set;
  concatMapAttrs = f: v: mergeAttrsList (attrValues (mapAttrs f v));
  updateManyAttrsByPath = updates: value:
    foldl' (acc: u:
      if u.path == [ ] then u.update acc
      else recursiveUpdate acc (setAttrByPath u.path (u.update (attrByPath u.path null acc)))
    ) value updates;
  attrVals = nameList: set: map (x: set.${x}) nameList;
  getAttrs = names: attrs: lib.attrsets.genAttrs names (name: attrs.${name});
  filterAttrs = pred: set:
    removeAttrs set (filter (name: !pred name set.${name}) (attrNames set));
  filterAttrsRecursive = pred: set:
    listToAttrs (concatMap (name:
      let v = set.${name}; in
      if pred name v then [ (nameValuePair name (if isAttrs v then filterAttrsRecursive pred v else v)) ] else [ ]
    ) (attrNames set));
  foldlAttrs = f: init: set: foldl' (acc: name: f acc name set.${name}) init (attrNames set);
  foldAttrs = op: nul: list_of_attrs:
    foldl' (a: n: a // { ${n} = lib.lists.foldr op nul (builtins.catAttrs n list_of_attrs); }) { }
      (lib.lists.unique (concatMap attrNames list_of_attrs));
  collect = pred: attrs:
    if pred attrs then [ attrs ]
    else if isAttrs attrs then concatMap (collect pred) (attrValues attrs)
    else [ ];
  cartesianProduct = lib.lists.cartesianProduct;
  cartesianProductOfSets = lib.lists.cartesianProduct;
  nameValuePair = name: value: { inherit name value; };
  mapAttrs' = f: set: listToAttrs (map (attr: f attr set.${attr}) (attrNames set));
  mapAttrsToList = f: attrs: map (name: f name attrs.${name}) (attrNames attrs);
  attrsToList = mapAttrsToList nameValuePair;
  mapAttrsRecursive = mapAttrsRecursiveCond (as: true);
  mapAttrsRecursiveCond = cond: f: set:
    let
      recurse = path: mapAttrs (name: value:
        if isAttrs value && cond value then recurse (path ++ [ name ]) value else f (path ++ [ name ]) value);
    in recurse [ ] set;
  mapAttrsToListRecursive = f: set:
    let go = path: s: concatMap (name: let v = s.${name}; in if isAttrs v && !isDerivation v then go (path ++ [ name ]) v else [ (f (path ++ [ name ]) v) ]) (attrNames s);
    in go [ ] set;
  genAttrs = names: f: listToAttrs (map (n: nameValuePair n (f n)) names);
  genAttrs' = xs: f: listToAttrs (map f xs);
  isDerivation = value: value.type or null == "derivation";
  toDerivation = path:
    let path' = builtins.storePath path; res = { type = "derivation"; name = builtins.unsafeDiscardStringContext (builtins.substring 33 (-1) (baseNameOf path')); outPath = path'; outputs = [ "out" ]; out = res; outputName = "out"; };
    in res;
  optionalAttrs = cond: as: if cond then as else { };
  zipAttrsWithNames = names: f: sets:
    listToAttrs (map (name: { inherit name; value = f name (builtins.catAttrs name sets); }) names);
  zipAttrs = builtins.zipAttrsWith (name: values: values);
  zipWithNames = zipAttrsWithNames;
  mergeAttrsList = list:
    let
      go = start: n:
        if n == 0 then { } else if n == 1 then elemAt list start
        else let h = builtins.div n 2; in go start h // go (start + h) (n - h);
    in go 0 (length list);
  recursiveUpdateUntil = pred: lhs: rhs:
    let
      f = attrPath: builtins.zipAttrsWith (n: values:
        let here = attrPath ++ [ n ]; in
        if length values == 1 || pred here (elemAt values 1) (head values)
        then head values
        else f here values);
    in f [ ] [ rhs lhs ];
  recursiveUpdate = recursiveUpdateUntil (path: lhs: rhs: !(isAttrs lhs && isAttrs rhs));
  matchAttrs = pattern: attrs:
    assert isAttrs pattern;
    lib.lists.all (attr:
      let lhs = pattern.${attr}; in
      attrs ? ${attr} && (let rhs = attrs.${attr}; in if isAttrs lhs && isAttrs rhs then matchAttrs lhs rhs else lhs == rhs)
    ) (attrNames pattern);
  overrideExisting = old: new: mapAttrs (name: value: new.${name} or value) old;
  showAttrPath = path: if path == [ ] then "<root attribute path>" else lib.strings.concatMapStringsSep "." lib.strings.escapeNixIdentifier path;
  # `pkg`'s output `output` (else `out`, else `pkg`) unless `pkg` already is one chosen output:
  # newer packages mark that with `outputSpecified = true`, nixpkgs 18.03's mark the
  # top-level with `outputUnspecified = true`; unmarked, a non-`out` output is taken as chosen.
  getOutput = output: pkg:
    let pick = pkg.${output} or pkg.out or pkg; in
    if pkg.outputSpecified or false then pkg
    else if pkg ? outputSpecified || (pkg.outputUnspecified or false) then pick
    else if pkg ? outputUnspecified || (pkg.outputName or "out") != "out" then pkg
    else pick;
  getFirstOutput = candidates: pkg:
    let outputs = builtins.filter (name: hasAttr name pkg) candidates; output = builtins.head outputs;
    in if pkg.outputSpecified or false || outputs == [ ] then pkg else pkg.${output};
  getBin = getOutput "bin";
  getLib = getOutput "lib";
  getDev = getOutput "dev";
  getMan = getOutput "man";
  chooseDevOutputs = map getDev;
  recurseIntoAttrs = attrs: attrs // { recurseForDerivations = true; };
  dontRecurseIntoAttrs = attrs: attrs // { recurseForDerivations = false; };
  unionOfDisjoint = x: y:
    let intersection = intersectAttrs x y; collisions = lib.strings.concatStringsSep " " (attrNames intersection);
    in if intersection == { } then x // y else throw "unionOfDisjoint: collision on ${collisions}; complete list: ${collisions}";
}
