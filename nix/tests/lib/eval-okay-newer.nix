# nixpkgs: 23.05+
# lib functions newer than nixpkgs 18.03.
{ lib ? import <kiln/lib> }:
with lib;
let
  drv = { type = "derivation"; name = "hello-2.12"; outPath = "/nix/store/x-hello"; out = drv; bin = drv; meta.mainProgram = "hi"; };
  drv2 = { type = "derivation"; name = "tool-1.0"; outPath = "/nix/store/y-tool"; };
  pkgs = { hello = drv; };
  opt = mkPackageOption pkgs "hello" { };
in
{
  exe = [ (getExe drv) (getExe drv2) (getExe' drv2 "other") ];
  shellVars = [ (toShellVar "x" "a b") (toShellVar "l" [ "a" "b c" ]) (toShellVar "m" { k = "v"; }) (toShellVars { a = "1"; b = "two words"; }) ];
  strings = [ (hasInfix "bc" "abcd") (hasInfix "x" "abc") (concatLines [ "a" "b" ]) (trim "  x y  ") (escapeRegex "a.b*") (toSentenceCase "hELLO")
    (escapeURL "a b/c") (escapeXML "<a&b>") (strings.sanitizeDerivationName "foo bar!") (isStringLike "x") (isStringLike 1) ];
  lists = [ (last [ 1 2 ]) (replicate 3 "x") (takeEnd 2 [ 1 2 3 ]) (dropEnd 1 [ 1 2 3 ]) (allUnique [ 1 2 1 ]) (lists.findFirstIndex (x: x == 3) null [ 1 3 ])
    (cartesianProduct { a = [ 1 2 ]; b = [ "x" ]; }) (lists.commonPrefix [ 1 2 3 ] [ 1 2 4 ]) (ifilter0 (i: x: i > 0) [ "a" "b" ]) (groupBy' (a: b: a + b) 0 (x: if x > 2 then "big" else "small") [ 1 2 3 4 ]) ];
  attrs = [ (concatMapAttrs (n: v: { "${n}1" = v; "${n}2" = v; }) { a = 1; }) (attrsToList { a = 1; }) (mergeAttrsList [ { a = 1; } { b = 2; } { a = 3; } ])
    (foldlAttrs (acc: n: v: acc + v) 0 { a = 1; b = 2; }) (getAttrs [ "a" ] { a = 1; b = 2; }) (attrsets.unionOfDisjoint { a = 1; } { b = 2; }) (showAttrPath [ "a" "b c" ]) ];
  trivial = [ (pipe 2 [ (x: x + 1) (x: x * 10) ]) (throwIf false "no" 1) (throwIfNot true "no" 2) (assertMsg true "ok") (toHexString 255) (toBaseDigits 2 5) (fromHexString "ff")
    (boolToString false) (toFunction 5 null) (warnIf false "never" 3) ];
  package = { inherit (opt) description; default = opt.default.name; defaultText = opt.defaultText.text; type = opt.type.name; };
  enable = { inherit (mkEnableOption "the thing") default description example; };
  generators = [ (generators.toKeyValue { } { a = 1; b = "x"; }) (generators.toINI { } { sec = { k = "v"; n = 2; }; })
    (generators.toPretty { } { a = [ 1 "s" ]; b = null; }) (generators.toPretty { multiline = false; } [ true 1.5 ]) ];
  literal = literalExpression "pkgs.hello";
  moved = [ (recurseIntoAttrs { x = 1; }) (naturalSort [ "a10" "a2" "a1" ]) (getVersion "hello-2.10") (getName "hello-2.10") (xor true false) (withFeature true "x") (withFeatureAs true "y" "z") (splitVersion "1.2pre3") (enableFeatureAs false "a" "b") (strings.escapeNixString "a\"$b")
    (getBin { out = "o"; bin = "b"; }) (getLib { out = "o"; })
    # Safe words are left unquoted (nixpkgs 18.03 quoted every argument).
    (escapeShellArg "simple") (escapeShellArgs [ "a" "b c" ])
    # The path is the attribute's own (as documented; nixpkgs 18.03 passed the parent's).
    (recursiveUpdateUntil (path: l: r: path == [ "a" ]) { a = { x = 1; }; } { a = { y = 2; }; }) ];
  versions = [ (versions.patch "1.2.3") (versions.pad 3 "1.2") ];
  systems = { inherit (systems.elaborate "x86_64-linux") isLinux isx86_64 is64bit isDarwin; };
}
