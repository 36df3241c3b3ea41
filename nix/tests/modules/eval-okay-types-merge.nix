# coercedTo, either, nullOr, enum, lines, commas, attrsOf and listOf merging.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkIf;
  r = lib.evalModules {
    modules = [
      {
        options = {
          coerced = mkOption { type = types.coercedTo types.str (s: [ s ]) (types.listOf types.str); };
          eitherStr = mkOption { type = types.either types.int types.str; };
          eitherList = mkOption { type = types.either types.int (types.listOf types.int); };
          nullable = mkOption { type = types.nullOr types.int; default = null; };
          nullSet = mkOption { type = types.nullOr types.int; };
          kind = mkOption { type = types.enum [ "a" "b" ]; };
          text = mkOption { type = types.lines; };
          commas = mkOption { type = types.commas; };
          nested = mkOption { type = types.attrsOf (types.listOf types.int); };
        };
      }
      { coerced = "one"; eitherStr = "x"; eitherList = [ 1 ]; nullSet = 5; kind = "b"; text = "a"; commas = "x"; nested.a = [ 1 ]; }
      { coerced = [ "two" ]; eitherList = [ 2 ]; text = "b"; commas = "y"; nested.a = [ 2 ]; nested.b = [ 3 ]; }
    ];
  };
in {
  inherit (r.config) coerced eitherStr eitherList nullable nullSet kind text commas nested;
}
