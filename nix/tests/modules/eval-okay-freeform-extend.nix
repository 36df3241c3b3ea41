# nixpkgs: 21.05+
# freeformType, extendModules, functionTo, deferredModule, specialArgs in submoduleWith.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types;
  base = lib.evalModules {
    modules = [
      {
        freeformType = types.attrsOf types.int;
        options.declared = mkOption { type = types.str; default = "d"; };
      }
      { free1 = 1; free2 = 2; }
    ];
  };
  extended = base.extendModules { modules = [ { free3 = 3; declared = "e"; } ]; };
  fns = lib.evalModules {
    modules = [
      { options.f = mkOption { type = types.functionTo (types.listOf types.int); }; }
      { f = x: [ x ]; }
      { f = x: [ (x + 1) ]; }
      { options.sub = mkOption { type = types.submoduleWith { modules = [ ({ site, ... }: { options.url = mkOption { default = "https://${site}"; }; }) ]; specialArgs.site = "example.org"; }; default = { }; }; }
      { options.deferred = mkOption { type = types.deferredModule; default = { }; }; }
      { deferred = { options.x = mkOption { default = 1; }; }; }
    ];
  };
  fromDeferred = (lib.evalModules { modules = [ fns.config.deferred ]; }).config.x;
in {
  base = removeAttrs base.config [ ];
  extended = extended.config;
  f = fns.config.f 10;
  url = fns.config.sub.url;
  inherit fromDeferred;
}
