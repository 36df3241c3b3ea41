# 1,000 trivial derivations in a DAG: derivation i depends on i-1 and i-7 (when they exist),
# and writes one line. The result is the list of all of them.
let
  mk = i: deps: derivation {
    name = "node-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo ${toString i} ${toString deps} > $out" ];
  };
  nodes = builtins.genList (i:
    mk i (builtins.map (j: builtins.elemAt nodes j)
      (builtins.filter (j: j >= 0) [ (i - 1) (i - 7) ]))) 1000;
in nodes
