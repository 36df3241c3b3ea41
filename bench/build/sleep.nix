# 100 independent derivations that each run for one second.
builtins.genList (i: derivation {
  name = "sleep-${toString i}";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "sleep 1; echo ${toString i} > $out" ];
}) 100
