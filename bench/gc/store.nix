# Two binary trees of 5,000 text paths each (builtins.toFile): text i refers to texts 2i+1 and
# 2i+2, so the first text's closure is its whole tree. `live` and `dead` are derivations over
# one tree each; bench/run gc roots `live` and leaves `dead` unreachable: 10^4 + 2 paths, half
# of them garbage.
let
  n = 5000;
  tree = tag:
    let
      t = i:
        if i >= n then ""
        else builtins.toFile "${tag}-${toString i}" "${tag} ${toString i} ${t (2 * i + 1)} ${t (2 * i + 2)}";
    in t 0;
  drv = tag: derivation {
    name = tag;
    system = "x86_64-linux";
    builder = "/bin/sh";
    tree = tree tag;
  };
in {
  live = drv "live";
  dead = drv "dead";
}
