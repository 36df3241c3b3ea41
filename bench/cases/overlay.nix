# A fixed-point package set of 10^4 attributes extended by overlays, as nixpkgs builds itself:
# `final`/`prev` lookups, `//` layering, recursive references across the set.
let
  fix = f: let x = f x; in x;
  extends = overlay: f: final: let prev = f final; in prev // overlay final prev;
  n = 10000;
  base = final: builtins.listToAttrs (builtins.genList (i: {
    name = "pkg${toString i}";
    value = {
      pname = "pkg${toString i}";
      version = i;
      deps = if i == 0 then [ ] else [ final."pkg${toString (i / 2)}" ];
    };
  }) n);
  overlay1 = final: prev: { pkg0 = prev.pkg0 // { version = 100; }; special = final.pkg42; };
  overlay2 = final: prev: builtins.mapAttrs (name: p:
    if builtins.isAttrs p && p ? version then p // { bumped = p.version + 1; } else p) prev;
  pkgs = fix (extends overlay2 (extends overlay1 base));
  depth = p: if p.deps == [ ] then 0 else 1 + depth (builtins.head p.deps);
in
  builtins.foldl' (acc: name: acc + pkgs.${name}.bumped + depth pkgs.${name}) 0
    (builtins.attrNames (builtins.removeAttrs pkgs [ "special" ]))
