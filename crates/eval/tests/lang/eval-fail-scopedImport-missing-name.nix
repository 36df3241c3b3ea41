# Without `x` in the set, the imported file has an undefined variable.
scopedImport { } ./imports/scoped.nix
