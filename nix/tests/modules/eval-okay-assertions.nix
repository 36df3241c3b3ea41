# assertions and warnings collected from modules; Kiln's checkAssertWarn applies them.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkIf;
  assertionsModule = {
    options.assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    options.warnings = mkOption { type = types.listOf types.str; default = [ ]; };
  };
  r = lib.evalModules {
    modules = [
      assertionsModule
      ({ config, ... }: {
        options.port = mkOption { type = types.int; default = 80; };
        config.assertions = [ { assertion = config.port > 1024; message = "port must be above 1024"; } ];
        config.warnings = mkIf (config.port == 80) [ "port 80 is the default" ];
      })
      { assertions = [ { assertion = true; message = "fine"; } ]; }
    ];
  };
in {
  failed = map (x: x.message) (builtins.filter (x: !x.assertion) r.config.assertions);
  inherit (r.config) warnings;
}
