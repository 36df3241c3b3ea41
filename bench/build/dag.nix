# 1,000 trivial derivations in a DAG: derivation i depends on i/2 and i/3 (for i > 0), so
# each input closure stays small (about log i paths) and the work is the per-build overhead.
# Each writes one line. The result is the list of all of them.
let
  mk = i: deps: derivation {
    name = "node-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo ${toString i} ${toString deps} > $out" ];
  };
  nodes = builtins.genList (i:
    mk i (builtins.map (j: builtins.elemAt nodes j)
      (if i == 0 then [ ] else [ (i / 2) (i / 3) ]))) 1000;
in nodes
