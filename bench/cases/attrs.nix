# listToAttrs, mapAttrs and // over 2·10^5 attributes: building, interning, merging sets.
let
  n = 200000;
  names = builtins.genList (i: "attr${toString i}") n;
  base = builtins.listToAttrs (map (name: { inherit name; value = builtins.stringLength name; }) names);
  doubled = builtins.mapAttrs (name: value: value * 2) base;
  merged = base // doubled // { extra = 1; };
in
  builtins.length (builtins.attrNames merged) + merged.attr12345 + merged.extra
