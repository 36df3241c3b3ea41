# concatStringsSep over plain strings (written at once), strings with context, and elements
# that are coerced (sets with __toString or outPath); the separator may carry context too.
let
  d = derivation { name = "d"; system = "x"; builder = "/b"; };
  sep = builtins.concatStringsSep;
  withCtx = sep ", " [ "a" "${d}" "b" ];
in
[
  (sep ", " [ ]) (sep ", " [ "one" ]) (sep "" [ "a" "b" "c" ]) (sep "-" [ "" "" ])
  withCtx (builtins.getContext withCtx)
  (sep " " [ "x" { __toString = s: "set"; } { outPath = "/o"; } ])
  (builtins.getContext (sep "${d}" [ "p" "q" ]))
  (builtins.stringLength (sep ", " (builtins.genList toString 1000)))
]
