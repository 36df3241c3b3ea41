# Declaring options (`mkOption`, `mkEnableOption`, `mkPackageOption`), the generic merge
# functions types use, and how options and values are shown in messages and docs.
{ lib }:
let
  inherit (builtins) isAttrs isList isString isFunction length head attrNames filter
    concatMap concatStringsSep map elemAt all;
  inherit (lib.strings) escapeNixString;
in
rec {
  isOption = v: isAttrs v && v._type or "" == "option";

  # An option declaration; every attribute is optional. `type` defaults to `types.unspecified`.
  mkOption =
    { default ? null, defaultText ? null, example ? null, description ? null
    , relatedPackages ? null, type ? null, apply ? null, internal ? null, visible ? null
    , readOnly ? null, options ? null }@attrs:
    attrs // { _type = "option"; };

  mkEnableOption = name: mkOption {
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
    type = lib.types.bool;
  };

  # `mkPackageOption pkgs "hello" { }`: a package option defaulting to `pkgs.hello`
  # (`default` may be a name, an attribute path, or null).
  mkPackageOption = pkgs: name:
    { nullable ? false, default ? name, example ? null, extraDescription ? "", pkgsText ? "pkgs" }:
    let
      name' = if isList name then concatStringsSep "." name else name;
      defaultPath = if isList default then default else [ default ];
      showPath = path: "${pkgsText}.${concatStringsSep "." (map lib.strings.escapeNixIdentifier path)}";
      defaultText = showPath defaultPath;
      defaultValue = lib.attrsets.attrByPath defaultPath
        (throw "${defaultText} cannot be found in ${pkgsText}") pkgs;
    in mkOption ({
      type = if nullable then lib.types.nullOr lib.types.package else lib.types.package;
      description = "The ${name'} package to use." + (if extraDescription == "" then "" else " " + extraDescription);
    } // (if default == null then { default = null; } else {
      default = defaultValue;
      defaultText = literalExpression defaultText;
    }) // lib.attrsets.optionalAttrs (example != null) {
      example = if isString example then literalExpression "${pkgsText}.${example}"
        else if isList example then literalExpression (showPath example) else example;
    });
  mkPackageOptionMD = mkPackageOption;
  mkSinkUndeclaredOptions = attrs: mkOption ({
    internal = true;
    visible = false;
    default = false;
    description = "Sink for option definitions.";
    type = mkOptionType' "sink";
    apply = x: throw "Option value is not readable because the option is not declared.";
  } // attrs);
  mkOptionType' = name: lib.types.mkOptionType { inherit name; check = x: true; merge = loc: defs: false; };

  # Merge functions for `types.mkOptionType`.
  mergeDefaultOption = loc: defs:
    let list = getValues defs; in
    if length list == 1 then head list
    else if all isFunction list then x: mergeDefaultOption loc (map (f: f x) list)
    else if all isList list then builtins.concatLists list
    else if all isAttrs list then builtins.foldl' lib.trivial.mergeAttrs { } list
    else if all builtins.isBool list then builtins.foldl' lib.trivial.or false list
    else if all isString list then lib.strings.concatStrings list
    else if all builtins.isInt list && all (x: x == head list) list then head list
    else throw "Cannot merge definitions of `${showOption loc}'. Definition values:${showDefs defs}";
  mergeOneOption = mergeUniqueOption { message = ""; };
  mergeUniqueOption = { message }: loc: defs:
    if length defs == 1 then (head defs).value
    else throw "The option `${showOption loc}' is defined multiple times while it's expected to be unique.${lib.strings.optionalString (message != "") "\n${message}"}\nDefinition values:${showDefs defs}\nUse `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions.";
  mergeEqualOption = loc: defs:
    if defs == [ ] then abort "This case should never happen."
    else if length defs == 1 then (head defs).value
    else
      let first = head defs; in
      builtins.foldl' (acc: def:
        if def.value != first.value then
          throw "The option `${showOption loc}' has conflicting definition values:${showDefs [ first def ]}\nUse `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions."
        else acc) first.value (builtins.tail defs);
  getValues = map (x: x.value);
  getFiles = map (x: x.file);

  # Documentation text.
  literalExpression = text:
    if !isString text then throw "literalExpression expects a string."
    else { _type = "literalExpression"; inherit text; };
  literalExample = text: { _type = "literalExample"; inherit text; };
  literalMD = text: { _type = "literalMD"; inherit text; };
  mdDoc = text: text;

  # `a.b."c d"`: an option path as NixOS prints it.
  showOption = parts:
    concatStringsSep "." (map (part:
      if builtins.elem part [ "<name>" "<name?>" "*" "<function body>" ] || lib.strings.hasPrefix "[definition " part
        || builtins.match "[a-zA-Z_][a-zA-Z0-9_'-]*" part != null
      then part else escapeNixString part) parts);
  showFiles = files: concatStringsSep " and " (map (f: "`${toString f}'") files);
  # Where a definition was written: `file:line` when its position is known.
  showDefLocation = def: if def.pos or null != null then "${toString def.pos.file}:${toString def.pos.line}" else toString def.file;
  showDefs = defs: lib.strings.concatMapStrings (def:
    let
      oneLine = showValue false def.value;
      text = if builtins.stringLength oneLine <= 72 then oneLine else showValue true def.value;
      lines = lib.strings.splitString "\n" text;
      shown = if length lines > 1 then ":\n    " + concatStringsSep "\n    " lines else ": " + text;
    in "\n- In `${showDefLocation def}'${shown}"
  ) defs;
  unknownModule = "<unknown-file>";

  # A value for an error message: Nix-like, cut off below a few levels (a definition may
  # hold a whole package set) and after a few elements.
  showValue = multiline: v:
    let
      maxDepth = 4;
      maxItems = 10;
      go = depth: indent: v:
        let
          sep = if multiline then "\n${indent}  " else " ";
          end = if multiline then "\n${indent}" else " ";
          items = xs: let n = length xs; shown = lib.lists.take maxItems xs; in
            shown ++ lib.lists.optional (n > maxItems) "…";
        in
        if builtins.isString v then escapeNixString v
        else if builtins.isInt v || builtins.isFloat v then builtins.toJSON v
        else if builtins.isBool v then lib.trivial.boolToString v
        else if v == null then "null"
        else if builtins.isPath v then toString v
        else if isFunction v then "<function>"
        else if isList v then
          if v == [ ] then "[ ]" else if depth >= maxDepth then "[ … ]"
          else "[" + sep + concatStringsSep sep (items (map (go (depth + 1) (indent + "  ")) v)) + end + "]"
        else if isAttrs v then
          if v ? type && v.type == "derivation" then "<derivation ${v.name or "?"}>"
          else if v == { } then "{ }" else if depth >= maxDepth then "{ … }"
          else "{" + sep + concatStringsSep sep (items (map (n:
            "${lib.strings.escapeNixIdentifier n} = ${go (depth + 1) (indent + "  ") v.${n}};") (attrNames v))) + end + "}"
        else "<${builtins.typeOf v}>";
    in go 0 "" v;

  # Every visible-or-not option of an evaluation's `options` as a list of
  # `{ name, loc, description, type, default?, example?, declarations, internal, visible, readOnly }`,
  # sorted by name, submodule options included under `<name>`.
  optionAttrSetToDocList = optionAttrSetToDocList' [ ];
  optionAttrSetToDocList' = _: options:
    concatMap (opt:
      let
        docOption = {
          loc = opt.loc;
          name = showOption opt.loc;
          description = opt.description or null;
          declarations = filter (x: x != unknownModule) opt.declarations;
          internal = opt.internal or false;
          visible = if (opt ? visible && opt.visible == "shallow") then true else opt.visible or true;
          readOnly = opt.readOnly or false;
          type = opt.type.description or "unspecified";
          # Where each declaration is, `file:line` where known, else the file; Kiln's addition.
          declarationLocations =
            let
              positions = opt.declarationPositions or [ ];
              pairs = lib.lists.imap0 (i: file: {
                inherit file;
                pos = if i < length positions then elemAt positions i else null;
              }) opt.declarations;
            in map (d: if d.pos == null then toString d.file else "${toString d.pos.file}:${toString d.pos.line}")
              (filter (d: d.file != unknownModule || d.pos != null) pairs);
        }
        // lib.attrsets.optionalAttrs (opt ? example) { example = renderOptionValue opt.example; }
        // lib.attrsets.optionalAttrs (opt ? defaultText || opt ? default) {
          default = if opt ? defaultText && isString opt.defaultText then literalExpression opt.defaultText
            else renderOptionValue (opt.defaultText or opt.default);
        };
        subOptions =
          let ss = opt.type.getSubOptions opt.loc;
          in if ss != { } then optionAttrSetToDocList' opt.loc ss else [ ];
      in [ docOption ] ++ subOptions
    ) (collectOptions options);
  collectOptions = attrs:
    if isOption attrs then [ attrs ]
    else if isAttrs attrs then concatMap (n: collectOptions attrs.${n}) (attrNames attrs)
    else [ ];
  renderOptionValue = v:
    if isAttrs v && v ? _type && v ? text then v
    else literalExpression (showValue true v);

  scrubOptionValue = x:
    if lib.attrsets.isDerivation x then { type = "derivation"; drvPath = x.name; outPath = x.name; name = x.name; }
    else if isList x then map scrubOptionValue x
    else if isAttrs x then builtins.mapAttrs (n: v: scrubOptionValue v) (removeAttrs x [ "_args" ])
    else x;
}
