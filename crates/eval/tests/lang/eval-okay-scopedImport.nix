# scopedImport puts the set's names in scope of the imported file, above the builtins: `x` is
# new, `map` and `toString` are overridden, `builtins` is not.
let
  a = scopedImport { x = 10; } ./imports/scoped.nix;
  b = scopedImport { x = 1; map = f: l: [ "mine" ]; toString = v: "ts"; } ./imports/scoped.nix;
in [ a b ]
