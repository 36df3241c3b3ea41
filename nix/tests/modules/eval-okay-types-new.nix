# nixpkgs: 20.09+
# Types newer than nixpkgs 18.03: lazyAttrsOf, oneOf, port, ints.*, anything.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkIf;
  r = lib.evalModules {
    modules = [
      {
        options = {
          oneOf = mkOption { type = types.oneOf [ types.bool types.int types.str ]; };
          lazy = mkOption { type = types.lazyAttrsOf types.int; };
          port = mkOption { type = types.port; };
          u8 = mkOption { type = types.ints.u8; };
          pos = mkOption { type = types.ints.positive; };
          between = mkOption { type = types.ints.between 3 5; };
          any = mkOption { type = types.anything; };
        };
      }
      { oneOf = "s"; port = 8080; u8 = 255; pos = 1; between = 4; any = { a = 1; b.c = [ "x" ]; }; }
      { any = { b.d = true; e = null; }; }
      { lazy.x = 1; lazy.y = mkIf false 2; lazy.z = throw "never evaluated"; }
    ];
  };
in {
  inherit (r.config) oneOf port u8 pos between any;
  lazyX = r.config.lazy.x;
  lazyNames = builtins.attrNames r.config.lazy;
  descriptions = map (t: t.description) [ types.port types.ints.u8 types.ints.positive (types.ints.between 3 5) (types.nullOr types.str) (types.enum [ "a" "b" ]) (types.either types.int types.str) ];
  checks = [ (types.port.check 65536) (types.ints.u8.check (-1)) (types.ints.s8.check (-128)) (types.str.check "x") (types.path.check "/x") (types.path.check "x") ];
}
