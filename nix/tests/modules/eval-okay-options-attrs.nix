# The option records: value, type, default, description, declarations, files, loc, isDefined.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types;
  r = lib.evalModules {
    modules = [
      { _file = "decl.nix"; options.a.b = mkOption { type = types.int; default = 1; description = "An int."; example = 5; }; options.c = mkOption { type = types.str; }; }
      { _file = "def1.nix"; a.b = 2; }
      { _file = "def2.nix"; a.b = lib.mkDefault 3; }
      { _file = "decl2.nix"; options.a.b = mkOption { apply = x: x * 10; }; }
    ];
  };
  o = r.options.a.b;
in {
  inherit (o) value default description declarations files loc isDefined definitions example;
  type = o.type.name;
  typeDesc = o.type.description;
  cDefined = r.options.c.isDefined;
  cType = r.options.c.type.description;
  isOption = lib.isOption o;
}
