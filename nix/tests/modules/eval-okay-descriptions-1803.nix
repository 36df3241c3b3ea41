# nixpkgs: ..18.03
# Types describe themselves as NixOS 18.03 did (newer nixpkgs say "list of signed integer"),
# so that its manual, built from these descriptions, comes out the same.
{ lib ? import <kiln/lib> }:
let inherit (lib) types; in
map (t: t.description) [
  (types.listOf types.int) (types.attrsOf types.bool) (types.nullOr (types.either types.int types.str))
  (types.loaOf types.str) types.lines (types.enum [ "a" true ]) (types.coercedTo types.int toString types.str)
  (types.nonEmptyListOf types.path) (types.uniq types.package) types.attrs types.unspecified
]
