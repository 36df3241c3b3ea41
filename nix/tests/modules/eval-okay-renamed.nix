# mkRenamedOptionModule forwards definitions and warns.
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
    ] ++ defs;
  }).config;
  used = eval [ { _file = "user.nix"; old.name = "renamed"; } ];
  unused = eval [ ];
in {
  name = used.new.name;
  warnings = used.warnings;
  unusedName = unused.new.name;
  unusedWarnings = unused.warnings;
}
