# Single and multiple outputs, chains and diamonds of dependencies.
let
  inherit (import ./lib.nix) mk;
  single = mk { name = "single"; };
  multi = mk { name = "multi"; outputs = [ "out" "dev" "lib" "bin" ]; };
  # outputs listed out of order: Nix sorts them in the ATerm
  unordered = mk { name = "unordered"; outputs = [ "zz" "out" "aa" ]; };
  a = mk { name = "chain-a"; };
  b = mk { name = "chain-b"; dep = a; };
  c = mk { name = "chain-c"; dep = b; };
  left = mk { name = "diamond-left"; dep = a; };
  right = mk { name = "diamond-right"; dep = a; lib = multi.lib; };
  top = mk {
    name = "diamond-top";
    deps = [ left right c ];
    devs = "${multi.dev} ${multi.bin} ${unordered.aa}";
  };
  noArgs = derivation { name = "no-args"; system = "aarch64-darwin"; builder = "/bin/false"; };
in { inherit single multi unordered a b c left right top noArgs; }
