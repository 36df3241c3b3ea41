# A store path name made from any text: characters a store path name cannot have become `-`.
# (Names come from /etc paths and unit names, e.g. `foo@.service` or `my file`.)
text:
let
  chars = builtins.genList (i: builtins.substring i 1 text) (builtins.stringLength text);
  safe = c: if builtins.match "[A-Za-z0-9+._?=-]" c != null then c else "-";
in
builtins.concatStringsSep "" (map safe chars)
