# Values to configuration-file text: key-value, INI, JSON, YAML, and Nix-like pretty printing.
{ lib }:
let
  inherit (builtins) isInt isFloat isBool isString isList isAttrs isPath isFunction toJSON
    attrNames concatStringsSep;
  inherit (lib.strings) escape escapeNixString;
in
rec {
  mkValueStringDefault = { }: v:
    if isInt v || isFloat v then toString v
    else if isString v then v
    else if v == true then "true"
    else if v == false then "false"
    else if v == null then "null"
    else if isPath v then toString v
    else if isAttrs v && (v ? outPath || v ? __toString) then toString v
    else throw "generators.mkValueStringDefault: ${builtins.typeOf v} not supported: ${toPretty { } v}";
  mkKeyValueDefault = { mkValueString ? mkValueStringDefault { } }: sep: k: v:
    "${escape [ sep ] k}${sep}${mkValueString v}";
  toKeyValue = { mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false, indent ? "" }: attrs:
    let
      mkLine = k: v: indent + mkKeyValue k v + "\n";
      mkLines = if listsAsDuplicateKeys then k: v: map (mkLine k) (if isList v then v else [ v ]) else k: v: [ (mkLine k v) ];
    in lib.strings.concatStrings (builtins.concatMap (k: mkLines k attrs.${k}) (attrNames attrs));
  toINI = { mkSectionName ? (name: escape [ "[" "]" ] name), mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false }: attrsOfAttrs:
    let
      mkSection = sectName: sectValues: ''
        [${mkSectionName sectName}]
      '' + toKeyValue { inherit mkKeyValue listsAsDuplicateKeys; } sectValues;
    in concatStringsSep "\n" (lib.attrsets.mapAttrsToList mkSection attrsOfAttrs);
  toINIWithGlobalSection = { mkSectionName ? (name: escape [ "[" "]" ] name), mkKeyValue ? mkKeyValueDefault { } "=", listsAsDuplicateKeys ? false }: { globalSection, sections ? { } }:
    (if globalSection == { } then "" else toKeyValue { inherit mkKeyValue listsAsDuplicateKeys; } globalSection + "\n")
    + toINI { inherit mkSectionName mkKeyValue listsAsDuplicateKeys; } sections;
  toJSON = { }: builtins.toJSON;
  toYAML = { }: builtins.toJSON;
  # Nix-like text for any value (functions as `<function>`), on one line unless `multiline`.
  toPretty = { allowPrettyValues ? false, multiline ? true, indent ? "" }:
    let
      go = indent: v:
        let
          introSpace = if multiline then "\n${indent}  " else " ";
          outroSpace = if multiline then "\n${indent}" else " ";
        in
        if isInt v then toString v
        else if isFloat v then builtins.toJSON v
        else if isString v then
          let lines = lib.strings.splitString "\n" v; in
          if multiline && builtins.length lines > 1 then
            "''" + introSpace + concatStringsSep introSpace (map (escape [ "$" ]) lines) + outroSpace + "''"
          else escapeNixString v
        else if true == v then "true"
        else if false == v then "false"
        else if null == v then "null"
        else if isPath v then toString v
        else if isList v then
          if v == [ ] then "[ ]" else "[" + introSpace + concatStringsSep introSpace (map (go (indent + "  ")) v) + outroSpace + "]"
        else if isFunction v then
          let fna = builtins.functionArgs v; in
          if fna == { } then "<function>"
          else "<function, args: {${concatStringsSep ", " (map (n: n + lib.strings.optionalString fna.${n} "?") (attrNames fna))}}>"
        else if isAttrs v then
          if allowPrettyValues && v ? __pretty && v ? val then v.__pretty v.val
          else if v == { } then "{ }"
          else if v ? type && v.type == "derivation" then "<derivation ${v.name or "???"}>"
          else "{" + introSpace
            + concatStringsSep introSpace (map (name: "${lib.strings.escapeNixIdentifier name} = ${go (indent + "  ") v.${name}};") (attrNames v))
            + outroSpace + "}"
        else abort "generators.toPretty: should never happen (v = ${builtins.typeOf v})";
    in go indent;
  toPlist = { }: v: throw "generators.toPlist is not supported by Kiln";
  toDhall = { }: v: throw "generators.toDhall is not supported by Kiln";
}
