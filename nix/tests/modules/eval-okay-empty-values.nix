# nixpkgs: 25.05+
# An option without definitions whose type has an empty value reads as it ([ ], { }, null,
# a submodule's defaults); it stays undefined. A bare submodule gets options declared below it.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types;
  r = lib.evalModules {
    modules = [
      {
        options = {
          list = mkOption { type = types.listOf types.int; };
          attrs = mkOption { type = types.attrsOf types.int; };
          nullable = mkOption { type = types.nullOr types.int; };
          sub = mkOption { type = types.submodule { options.n = mkOption { type = types.int; default = 13; }; }; };
          bare = mkOption { type = types.submoduleWith { modules = [ ]; shorthandOnlyDefinesConfig = true; }; default = { }; };
        };
      }
      { options.bare.deep = mkOption { type = types.int; default = 2; }; }
    ];
  };
in {
  inherit (r.config) list attrs nullable sub bare;
  defined = r.options.list.isDefined;
}
