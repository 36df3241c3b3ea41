# nixpkgs: 20.09+
# mkRenamedOptionModule forwards definitions and warns; mkRemovedOptionModule asserts
# (nixpkgs 18.03 only warned).
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types;
  common = {
    options.assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    options.warnings = mkOption { type = types.listOf types.str; default = [ ]; };
    options.new.name = mkOption { type = types.str; default = "default"; };
  };
  eval = defs: (lib.evalModules {
    modules = [
      common
      (lib.mkRenamedOptionModule [ "old" "name" ] [ "new" "name" ])
      (lib.mkRemovedOptionModule [ "gone" ] "Use something else.")
    ] ++ defs;
  }).config;
  used = eval [ { _file = "user.nix"; old.name = "renamed"; gone = 1; } ];
  unused = eval [ ];
in {
  name = used.new.name;
  warnings = used.warnings;
  failed = map (a: a.message) (builtins.filter (a: !a.assertion) used.assertions);
  unusedName = unused.new.name;
  unusedWarnings = unused.warnings;
  unusedFailed = builtins.filter (a: !a.assertion) unused.assertions;
}
