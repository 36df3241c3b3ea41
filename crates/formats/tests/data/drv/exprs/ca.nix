# Floating content-addressed derivations (experimental in Nix 2.8) and a derivation depending on
# one, whose outputs are deferred.
let
  inherit (import ./lib.nix) mk;
  floating = mk {
    name = "floating";
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
in {
  inherit floating;
  after-floating = mk { name = "after-floating"; dep = floating; };
}
