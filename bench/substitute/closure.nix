# A binary tree of 1,000 text paths of ~4 KiB each (builtins.toFile): text i refers to texts
# 2i+1 and 2i+2, so the first one's closure is all of them. bench/run substitute uploads it to
# a binary cache and times fetching that closure into fresh store roots.
let
  n = 1000;
  filler = builtins.concatStringsSep "" (builtins.genList (i: "line ${toString i} of filler text\n") 160);
  t = i:
    if i >= n then ""
    else builtins.toFile "sub-${toString i}" "${toString i} ${t (2 * i + 1)} ${t (2 * i + 2)}\n${filler}";
in t 0
