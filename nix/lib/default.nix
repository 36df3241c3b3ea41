# Kiln's `lib`, laid out as nixpkgs' (`lib.attrsets`, `lib.lists`, `lib.strings`, `lib.types`,
# `lib.modules`, …), with the common functions also at the top level. Written for Kiln from
# nixpkgs' documented names and behaviour. `import <kiln/lib>` gives this set.
let
  lib = sets // flat // {
    inherit (builtins) map filter head tail elem elemAt length concatLists concatMap
      genList foldl' isList isAttrs isString isInt isBool isFloat isFunction
      attrNames attrValues hasAttr getAttr listToAttrs mapAttrs removeAttrs intersectAttrs
      catAttrs zipAttrsWith stringLength substring replaceStrings match split toJSON fromJSON
      pathExists readFile seq deepSeq genericClosure typeOf toFile sort partition groupBy
      baseNameOf dirOf tryEval addErrorContext unsafeGetAttrPos;
    inherit (sets.options) mkOption mkEnableOption mkPackageOption mkPackageOptionMD
      mkSinkUndeclaredOptions isOption mergeDefaultOption mergeOneOption mergeUniqueOption
      mergeEqualOption getValues getFiles literalExpression literalExample literalMD mdDoc
      showOption showFiles showDefs unknownModule optionAttrSetToDocList scrubOptionValue;
    # Kiln's own additions, outside nixpkgs' names.
    kiln = import ./kiln.nix { inherit lib; };
  };
  sets = {
    trivial = import ./trivial.nix { inherit lib; };
    lists = import ./lists.nix { inherit lib; };
    strings = import ./strings.nix { inherit lib; };
    attrsets = import ./attrsets.nix { inherit lib; };
    fixedPoints = import ./fixed-points.nix { inherit lib; };
    customisation = import ./customisation.nix { inherit lib; };
    versions = import ./versions.nix { inherit lib; };
    systems = import ./systems.nix { inherit lib; };
    debug = import ./debug.nix { inherit lib; };
    asserts = import ./asserts.nix { inherit lib; };
    meta = import ./meta.nix { inherit lib; };
    generators = import ./generators.nix { inherit lib; };
    licenses = import ./licenses.nix { inherit lib; };
    platforms = import ./platforms.nix { inherit lib; };
    maintainers = { };
    options = import ./options.nix { inherit lib; };
    types = import ./types.nix { inherit lib; };
    modules = import ./modules.nix { inherit lib; };
    stringsWithDeps = import ./strings-with-deps.nix { inherit lib; };
    sources = import ./sources.nix { inherit lib; };
  };
  # The top-level functions, in nixpkgs' precedence (later files win a shared name).
  flat = sets.trivial // sets.lists // sets.strings // sets.attrsets // sets.fixedPoints
    // sets.customisation // sets.debug // sets.asserts // sets.meta // sets.modules
    // sets.stringsWithDeps // sets.sources
    // {
      inherit (sets.types) mkOptionType isType isOptionType defaultFunctor defaultTypeMerge;
      setType = typeName: value: value // { _type = typeName; };
      imap = sets.lists.imap1;
      mapAttrsFlatten = sets.attrsets.mapAttrsToList;
      replaceChars = builtins.replaceStrings;
      makePerlPath = sets.strings.makeSearchPathOutput "lib" "lib/perl5/site_perl";
      nixpkgsVersion = sets.trivial.version;
      ifEnable = cond: val: if cond then val else if builtins.isList val then [ ] else if builtins.isAttrs val then { } else "";
      uniqList = { inputList, acc ? [ ] }: sets.lists.unique (acc ++ inputList);
      zip = sets.attrsets.zipAttrsWith;
      maybeEnv = name: default: let value = builtins.getEnv name; in if value == "" then default else value;
      maybeAttr = name: default: attrs: attrs.${name} or default;
      maybeAttrNullable = name: default: attrs: if attrs.${name} or null == null then default else attrs.${name};
      nvs = name: value: { ${name} = value; };
      setAttr = set: name: value: set // { ${name} = value; };
      inherit (sets.versions) splitVersion;
      inherit (sets.trivial) isFunction functionArgs setFunctionArgs id const importJSON importTOML warn;
      inherit (sets.lists) foldr foldl range last init unique flatten remove optional optionals toList
        take drop sublist reverseList findFirst findSingle any all count imap0 imap1;
      inherit (sets.strings) isStorePath;
    };
in
lib
