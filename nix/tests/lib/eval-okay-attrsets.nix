# lib.attrsets, as nixpkgs 18.03 has them.
{ lib ? import <kiln/lib> }:
with lib;
let set = { a = 1; b = 2; c = { d = 3; }; }; in
{
  paths = [ (attrByPath [ "c" "d" ] 0 set) (attrByPath [ "c" "x" ] 0 set) (attrByPath [ "a" "b" ] "no" set) (hasAttrByPath [ "c" "d" ] set) (hasAttrByPath [ "z" ] set)
    (setAttrByPath [ "x" "y" ] 1) (getAttrFromPath [ "c" "d" ] set) (attrVals [ "a" "b" ] set) ];
  maps = [ (mapAttrs' (n: v: nameValuePair "p-${n}" (v * 10)) { x = 1; y = 2; }) (mapAttrsToList (n: v: "${n}=${toString v}") { x = 1; y = 2; })
    (mapAttrsRecursive (path: v: concatStringsSep "." path) { a.b = 1; c = 2; }) (mapAttrsRecursiveCond (as: !(as ? stop)) (p: v: v) { a = { stop = 1; }; })
    (genAttrs [ "x" "y" ] (n: n + n)) (nameValuePair "n" "v") ];
  filters = [ (filterAttrs (n: v: v > 1) { x = 1; y = 2; z = 3; }) (filterAttrsRecursive (n: v: v != null) { a = null; b = { c = null; d = 1; }; })
    (optionalAttrs true { x = 1; }) (optionalAttrs false { x = 1; }) ];
  merges = [ (recursiveUpdate { a = { b = 1; c = 2; }; d = 1; } { a = { c = 3; }; e = 4; }) (recursiveUpdate { a = 1; } { a = { b = 2; }; })
    (zipAttrsWith (n: vs: vs) [ { a = 1; } { a = 2; b = 3; } ]) (zipAttrs [ { a = 1; } { a = 2; } ]) (zipAttrsWithNames [ "a" ] (n: vs: vs) [ { a = 1; b = 2; } ])
    (foldAttrs (n: a: [ n ] ++ a) [ ] [ { a = 2; } { a = 7; b = 1; } ]) (overrideExisting { a = 1; b = 2; } { a = 3; c = 4; }) ];
  misc = [ (collect isInt { a = 1; b = { c = 2; d = "x"; }; }) (catAttrs "a" [ { a = 1; } { b = 2; } { a = 3; } ]) (attrNames set) (attrValues { x = 1; y = 2; })
    (isDerivation { type = "derivation"; }) (isDerivation { }) (matchAttrs { a = 1; } { a = 1; b = 2; }) (matchAttrs { a = 2; } { a = 1; })
    (importJSON ./data/sample.json) ];
}
