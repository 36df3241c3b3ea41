# Option types: what a definition must be (`check`) and how several definitions combine
# (`merge loc defs`, `defs` being `[ { file, value, pos? } ]`). Composite types merge their
# elements through `lib.modules.mergeDefinitions`, so `mkIf`/`mkOverride` work inside them.
{ lib }:
let
  inherit (builtins) isAttrs isList isString isInt isFloat isBool isFunction isPath
    length head tail elem all any filter map attrNames concatLists concatMap mapAttrs
    zipAttrsWith genList elemAt;
  inherit (lib.options) mergeEqualOption mergeOneOption mergeDefaultOption showOption showDefs
    getValues getFiles showFiles;
  inherit (lib.modules) mergeDefinitions;

  isType = type: x: x._type or "" == type;

  # The functor describes how two declarations' types combine (`typeMerge`): same `name`,
  # then the wrapped types merge pairwise, or the payloads combine with `binOp`.
  defaultFunctor = name: { inherit name; type = types.${name} or null; wrapped = null; payload = null; binOp = a: b: null; };

  defaultTypeMerge = f: f':
    let
      wrapped = f.wrapped.typeMerge f'.wrapped.functor;
      payload = f.binOp f.payload f'.payload;
    in
    if f.name != f'.name then null
    else if f.payload != null && f'.payload != null then
      (if payload != null then f.type payload else null)
    else if f.wrapped != null && f'.wrapped != null then
      (if wrapped != null then f.type wrapped else null)
    else if f.payload == null && f'.payload == null && f.wrapped == null && f'.wrapped == null then f.type
    else null;

  mkOptionType =
    { name
    , description ? name
    , descriptionClass ? null
    , check ? (x: true)
    , merge ? mergeDefaultOption
    , emptyValue ? { }
    , getSubOptions ? prefix: { }
    , getSubModules ? null
    , substSubModules ? m: null
    , typeMerge ? defaultTypeMerge functor
    , functor ? defaultFunctor name
    , deprecationMessage ? null
    , nestedTypes ? { }
    }: {
      _type = "option-type";
      inherit name description descriptionClass check merge emptyValue getSubOptions getSubModules
        substSubModules typeMerge functor deprecationMessage nestedTypes;
    };

  # Types describe themselves as in NixOS 18.03 ("list of strings", "null or string or
  # signed integer", no parentheses), so that its option documentation comes out the same.
  optionDescriptionPhrase = unparenthesize: t: t.description;
  nounOrConj = c: c == "noun" || c == "conjunction";
  noun = c: c == "noun";

  # The merged values of the elements, as `{ value }` or `{ }` when no definition remains.
  elemValue = loc: type: defs: (mergeDefinitions loc type defs).optionalValue;

  # `defs` of attribute sets split per attribute name (properties pushed down).
  defsByName = defs:
    zipAttrsWith (n: vs: vs) (concatMap (def:
      map (split: mapAttrs (n: v: { inherit (def) file; value = split.wrap v; pos = builtins.unsafeGetAttrPos n split.set; }) split.set)
        (lib.modules.splitProperties def.value)
    ) defs);

  types = rec {
    inherit isType mkOptionType defaultFunctor defaultTypeMerge;
    isOptionType = isType "option-type";

    raw = mkOptionType { name = "raw"; description = "raw value"; descriptionClass = "noun"; merge = mergeOneOption; };
    anything = mkOptionType {
      name = "anything";
      description = "anything";
      descriptionClass = "noun";
      merge = loc: defs:
        let
          typeOf = v: if isAttrs v && lib.strings.isStringLike v then "stringCoercibleSet" else builtins.typeOf v;
          types' = map (d: typeOf d.value) defs;
          common = head types';
        in
        if !(all (t: t == common) types') then
          throw "The option `${showOption loc}' has conflicting definition values (different types):${showDefs defs}"
        else if common == "set" then (lazyAttrsOf anything).merge loc defs
        else if common == "list" then
          (if length defs > 1 then throw "The option `${showOption loc}' has conflicting definitions, in ${showFiles (map lib.options.showDefLocation defs)}."
           else (listOf anything).merge loc defs)
        else if common == "lambda" then
          arg: anything.merge (loc ++ [ "<function body>" ]) (map (d: d // { value = d.value arg; }) defs)
        else if common == "stringCoercibleSet" then mergeOneOption loc defs
        else mergeEqualOption loc defs;
    };
    unspecified = mkOptionType { name = "unspecified"; descriptionClass = "noun"; };
    bool = mkOptionType { name = "bool"; description = "boolean"; descriptionClass = "noun"; check = isBool; merge = mergeEqualOption; };
    boolByOr = mkOptionType { name = "boolByOr"; description = "boolean (merged using or)"; descriptionClass = "noun"; check = isBool; merge = loc: defs: any (d: d.value) defs; };
    int = mkOptionType { name = "int"; description = "signed integer"; descriptionClass = "noun"; check = isInt; merge = mergeEqualOption; };
    ints = let
      betweenDesc = lowest: highest: "${toString lowest} and ${toString highest} (both inclusive)";
      between = lowest: highest:
        assert lib.asserts.assertMsg (lowest <= highest) "ints.between: lowest must be smaller than highest";
        addCheck int (x: x >= lowest && x <= highest) // {
          name = "intBetween";
          description = "integer between ${betweenDesc lowest highest}";
        };
      ign = lowest: highest: name: docStart:
        between lowest highest // { inherit name; description = docStart + "; between ${betweenDesc lowest highest}"; };
      unsign = bit: range: ign 0 (range - 1) "unsignedInt${toString bit}" "${toString bit} bit unsigned integer";
      sign = bit: range: ign (0 - (range / 2)) (range / 2 - 1) "signedInt${toString bit}" "${toString bit} bit signed integer";
    in {
      inherit between;
      unsigned = addCheck int (x: x >= 0) // { name = "unsignedInt"; description = "unsigned integer, meaning >=0"; descriptionClass = "nonRestrictiveClause"; };
      positive = addCheck int (x: x > 0) // { name = "positiveInt"; description = "positive integer, meaning >0"; descriptionClass = "nonRestrictiveClause"; };
      u8 = unsign 8 256;
      u16 = unsign 16 65536;
      u32 = unsign 32 4294967296;
      s8 = sign 8 256;
      s16 = sign 16 65536;
      s32 = sign 32 4294967296;
    };
    port = ints.u16;
    float = mkOptionType { name = "float"; description = "floating point number"; descriptionClass = "noun"; check = isFloat; merge = mergeEqualOption; };
    number = either int float;
    numbers = {
      between = lowest: highest: addCheck number (x: x >= lowest && x <= highest) // { name = "numberBetween"; description = "integer or floating point number between ${toString lowest} and ${toString highest} (both inclusive)"; };
      nonnegative = addCheck number (x: x >= 0) // { name = "numberNonnegative"; description = "integer or floating point number, meaning >=0"; };
      positive = addCheck number (x: x > 0) // { name = "numberPositive"; description = "positive integer or floating point number, meaning >0"; };
    };
    str = mkOptionType { name = "str"; description = "string"; descriptionClass = "noun"; check = isString; merge = mergeEqualOption; };
    nonEmptyStr = mkOptionType {
      name = "nonEmptyStr"; description = "non-empty string"; descriptionClass = "noun";
      check = x: str.check x && builtins.match "[ \t\n]*" x == null;
      inherit (str) merge;
    };
    singleLineStr = mkOptionType {
      name = "singleLineStr"; description = "(optionally newline-terminated) single-line string"; descriptionClass = "noun";
      check = x: str.check x && builtins.match "[^\n]*\n?" x != null;
      merge = loc: defs: lib.strings.removeSuffix "\n" (mergeEqualOption loc defs);
    };
    strMatching = pattern: mkOptionType {
      name = "strMatching ${lib.strings.escapeNixString pattern}";
      description = "string matching the pattern ${pattern}";
      descriptionClass = "noun";
      check = x: str.check x && builtins.match pattern x != null;
      inherit (str) merge;
      functor = defaultFunctor "strMatching" // { type = payload: strMatching payload; payload = pattern; binOp = lhs: rhs: if lhs == rhs then lhs else null; };
    };
    separatedString = sep: mkOptionType {
      name = "separatedString";
      description = "string";
      descriptionClass = "noun";
      check = isString;
      merge = loc: defs: builtins.concatStringsSep sep (getValues defs);
      functor = defaultFunctor "separatedString" // { type = separatedString; payload = sep; binOp = a: b: if a == b then a else null; };
    };
    lines = separatedString "\n";
    commas = separatedString ",";
    envVar = separatedString ":";
    string = separatedString "" // { name = "string"; deprecationMessage = "See https://github.com/NixOS/nixpkgs/pull/66346 for better alternative types."; };
    passwdEntry = entryType: addCheck entryType (str: !(lib.strings.hasInfix ":" str || lib.strings.hasInfix "\n" str)) // {
      name = "passwdEntry ${entryType.name}";
      description = "${optionDescriptionPhrase nounOrConj entryType}, not containing newlines or colons";
    };
    attrs = mkOptionType { name = "attrs"; description = "attribute set"; descriptionClass = "noun"; check = isAttrs; merge = loc: builtins.foldl' (res: def: res // def.value) { }; emptyValue = { value = { }; }; };
    package = mkOptionType {
      name = "package";
      description = "package";
      descriptionClass = "noun";
      check = x: lib.attrsets.isDerivation x || lib.strings.isStorePath x;
      merge = loc: defs:
        let res = mergeOneOption loc defs;
        in if builtins.isPath res || (isString res && !builtins.hasContext res) then lib.attrsets.toDerivation res else res;
    };
    shellPackage = package // { check = x: lib.attrsets.isDerivation x && x ? shellPath; };
    pkgs = addCheck (unique { message = "A Nixpkgs pkgs set can not be merged with another pkgs set."; } attrs // { name = "pkgs"; descriptionClass = "noun"; description = "Nixpkgs package set"; }) (x: (x._type or null) == "pkgs");
    path = mkOptionType {
      name = "path";
      description = "path";
      descriptionClass = "noun";
      check = x: lib.strings.isStringLike x && builtins.substring 0 1 (toString x) == "/";
      merge = mergeEqualOption;
    };
    pathInStore = mkOptionType { name = "pathInStore"; description = "path in the Nix store"; descriptionClass = "noun"; check = x: lib.strings.isStringLike x && lib.strings.hasPrefix builtins.storeDir (toString x); merge = mergeEqualOption; };
    externalPath = path;
    optionType = mkOptionType {
      name = "optionType";
      description = "optional type";
      descriptionClass = "noun";
      check = isOptionType;
      merge = loc: defs:
        if length defs == 1 then (head defs).value
        else builtins.foldl' (a: b: let m = a.typeMerge b.functor; in if m == null then throw "The option `${showOption loc}' has conflicting option types" else m) (head defs).value (map (d: d.value) (tail defs));
    };

    listOf = elemType: mkOptionType rec {
      name = "listOf";
      description = "list of ${elemType.description}s";
      descriptionClass = "composite";
      check = isList;
      merge = loc: defs:
        map (x: x.value) (filter (x: x ? value) (concatLists (lib.lists.imap1 (n: def:
          lib.lists.imap1 (m: v:
            elemValue (loc ++ [ "[definition ${toString n}-entry ${toString m}]" ]) elemType
              [ { inherit (def) file; pos = def.pos or null; value = v; } ]
          ) def.value
        ) defs)));
      emptyValue = { value = [ ]; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "*" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: listOf (elemType.substSubModules m);
      functor = defaultFunctor name // { wrapped = elemType; };
      nestedTypes.elemType = elemType;
    };
    nonEmptyListOf = elemType:
      let list = addCheck (listOf elemType) (l: l != [ ]);
      in list // {
        description = "non-empty list of ${elemType.description}s";
        emptyValue = { };
        substSubModules = m: nonEmptyListOf (elemType.substSubModules m);
      };

    attrsOf = elemType: attrsWith { inherit elemType; };
    lazyAttrsOf = elemType: attrsWith { inherit elemType; lazy = true; };
    attrsWith = { elemType, lazy ? false, placeholder ? "name" }: mkOptionType rec {
      name = if lazy then "lazyAttrsOf" else "attrsOf";
      description = (if lazy then "lazy attribute set" else "attribute set") + " of ${elemType.description}s";
      descriptionClass = "composite";
      check = isAttrs;
      merge = loc: defs:
        let byName = defsByName defs; in
        if lazy then
          mapAttrs (n: defs': let r = mergeDefinitions (loc ++ [ n ]) elemType defs'; in
            if r.isDefined then r.mergedValue else elemType.emptyValue.value or r.mergedValue) byName
        else
          mapAttrs (n: v: v.value) (lib.attrsets.filterAttrs (n: v: v ? value)
            (mapAttrs (n: defs': elemValue (loc ++ [ n ]) elemType defs') byName));
      emptyValue = { value = { }; };
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<${placeholder}>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: attrsWith { elemType = elemType.substSubModules m; inherit lazy placeholder; };
      functor = defaultFunctor name // { wrapped = elemType; type = w: attrsWith { elemType = w; inherit lazy placeholder; }; };
      nestedTypes.elemType = elemType;
    };
    # An attribute set, or (as NixOS 18.03 allowed) a list whose elements are named by their
    # `name` attribute or `unnamed-N.M` (definition N, element M).
    loaOf = elemType:
      let attrOnly = attrsOf elemType; in
      attrOnly // {
        name = "loaOf";
        description = "list or attribute set of ${elemType.description}s";
        check = x: isList x || isAttrs x;
        merge = loc: defs: attrOnly.merge loc (lib.lists.imap1 (n: def:
          if isList def.value then def // {
            value = builtins.listToAttrs (lib.lists.imap1 (m: elem: {
              name = elem.name or "unnamed-${toString n}.${toString m}";
              value = elem;
            }) def.value);
          } else def) defs);
        getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<name?>" ]);
        substSubModules = m: loaOf (elemType.substSubModules m);
        functor = attrOnly.functor // { name = "loaOf"; type = loaOf; };
      };
    optionSet = mkOptionType { name = "optionSet"; description = "option set"; deprecationMessage = "Use `types.submodule' instead"; };

    uniq = unique { message = ""; };
    unique = { message }: type: mkOptionType rec {
      name = "unique";
      inherit (type) description descriptionClass check;
      merge = lib.options.mergeUniqueOption { inherit message; };
      emptyValue = type.emptyValue;
      getSubOptions = type.getSubOptions;
      getSubModules = type.getSubModules;
      substSubModules = m: uniq (type.substSubModules m);
      functor = defaultFunctor name // { wrapped = type; type = w: unique { inherit message; } w; };
      nestedTypes.elemType = type;
    };

    nullOr = elemType: mkOptionType rec {
      name = "nullOr";
      description = "null or ${optionDescriptionPhrase nounOrConj elemType}";
      descriptionClass = "conjunction";
      check = x: x == null || elemType.check x;
      merge = loc: defs:
        let nrNulls = length (filter (d: d.value == null) defs); in
        if nrNulls == length defs then null
        else if nrNulls != 0 then
          throw "The option `${showOption loc}' is defined both null and not null, in ${showFiles (map lib.options.showDefLocation defs)}."
        else elemType.merge loc defs;
      emptyValue = { value = null; };
      getSubOptions = elemType.getSubOptions;
      getSubModules = elemType.getSubModules;
      substSubModules = m: nullOr (elemType.substSubModules m);
      functor = defaultFunctor name // { wrapped = elemType; };
      nestedTypes.elemType = elemType;
    };

    functionTo = elemType: mkOptionType {
      name = "functionTo";
      description = "function that evaluates to a(n) ${optionDescriptionPhrase nounOrConj elemType}";
      descriptionClass = "composite";
      check = lib.trivial.isFunction;
      merge = loc: defs: fnArgs:
        (mergeDefinitions (loc ++ [ "<function body>" ]) elemType (map (fn: { inherit (fn) file; value = fn.value fnArgs; }) defs)).mergedValue;
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<function body>" ]);
      getSubModules = elemType.getSubModules;
      substSubModules = m: functionTo (elemType.substSubModules m);
      functor = defaultFunctor "functionTo" // { wrapped = elemType; };
      nestedTypes.elemType = elemType;
    };

    enum = values:
      let
        show = v: if isString v then ''"${v}"'' else if isInt v then toString v else ''<${builtins.typeOf v}>'';
      in mkOptionType rec {
        name = "enum";
        description = "one of ${builtins.concatStringsSep ", " (map show values)}";
        descriptionClass = if length values < 2 then "noun" else "conjunction";
        check = flip elem values;
        merge = mergeEqualOption;
        functor = defaultFunctor name // { type = enum; payload = values; binOp = a: b: lib.lists.unique (a ++ b); };
      };

    either = t1: t2: mkOptionType rec {
      name = "either";
      description = "${optionDescriptionPhrase nounOrConj t1} or ${optionDescriptionPhrase nounOrConj t2}";
      descriptionClass = "conjunction";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        let defList = map (d: d.value) defs; in
        if all (x: t1.check x) defList then t1.merge loc defs
        else if all (x: t2.check x) defList then t2.merge loc defs
        else mergeOneOption loc defs;
      typeMerge = f':
        let mt1 = t1.typeMerge (elemAt f'.wrapped 0).functor; mt2 = t2.typeMerge (elemAt f'.wrapped 1).functor;
        in if name == f'.name && mt1 != null && mt2 != null then functor.type mt1 mt2 else null;
      functor = defaultFunctor name // { wrapped = [ t1 t2 ]; };
      nestedTypes.left = t1;
      nestedTypes.right = t2;
    };
    oneOf = ts:
      let head' = if ts == [ ] then throw "types.oneOf needs at least one type in its argument" else head ts;
      in builtins.foldl' either head' (tail ts);

    coercedTo = coercedType: coerceFunc: finalType:
      assert lib.asserts.assertMsg (coercedType.getSubModules == null) "coercedTo: coercedType must not have submodules (it's a ${coercedType.description})";
      mkOptionType rec {
        name = "coercedTo";
        description = "${finalType.description} or ${coercedType.description}";
        check = x: (coercedType.check x && finalType.check (coerceFunc x)) || finalType.check x;
        merge = loc: defs:
          let coerceVal = val: if coercedType.check val && !(finalType.check val) then coerceFunc val else val;
          in finalType.merge loc (map (def: def // { value = coerceVal def.value; }) defs);
        emptyValue = finalType.emptyValue;
        getSubOptions = finalType.getSubOptions;
        getSubModules = finalType.getSubModules;
        substSubModules = m: coercedTo coercedType coerceFunc (finalType.substSubModules m);
        typeMerge = t: null;
        functor = defaultFunctor name // { wrapped = finalType; };
        nestedTypes.coercedType = coercedType;
        nestedTypes.finalType = finalType;
      };

    addCheck = elemType: check: elemType // { check = x: elemType.check x && check x; };

    submodule = modules: submoduleWith {
      shorthandOnlyDefinesConfig = true;
      modules = lib.lists.toList modules;
    };

    # Definitions are modules evaluated together with `modules`, under the option's path;
    # `name` (the attribute name under `attrsOf`) reaches them as a module argument.
    submoduleWith = { modules, specialArgs ? { }, shorthandOnlyDefinesConfig ? false, description ? null, class ? null }@attrs:
      let
        defModules = defs: map (def: {
          _file = def.file;
          # `null` (merged declarations disagree): full module syntax, which takes a plain
          # attribute set as config anyway.
          imports = [ (if shorthandOnlyDefinesConfig == true && isAttrs def.value && !(isFunction def.value)
                       then { config = def.value; } else def.value) ];
        }) defs;
        eval = loc: extra: evalNamed loc (lib.lists.last loc) extra;
        evalNamed = loc: name: extra: lib.modules.evalModules {
          modules = [ { _module.args.name = lib.modules.mkOptionDefault name; } ] ++ modules ++ extra;
          inherit specialArgs class;
          prefix = loc;
        };
        base = loc: eval loc [ ];
        freeformType = (base [ "<name>" ])._module.freeformType or null;
      in mkOptionType rec {
        name = "submodule";
        description = if attrs ? description && attrs.description != null then attrs.description
          else if freeformType != null then freeformType.description
          else "submodule";
        descriptionClass = "noun";
        check = x: isAttrs x || isFunction x || isPath x;
        merge = loc: defs:
          (eval loc (defModules defs)).config;
        emptyValue = { value = { }; };
        # For documentation the `name` argument is "<name>" (DocBook-escaped, as in NixOS 18.03).
        getSubOptions = prefix: (evalNamed prefix "&lt;name&gt;" [ ]).options // lib.attrsets.optionalAttrs (freeformType != null) { _freeformOptions = freeformType.getSubOptions prefix; };
        getSubModules = modules;
        substSubModules = m: submoduleWith (attrs // { modules = m; });
        nestedTypes = { };
        functor = defaultFunctor name // {
          type = submoduleWith;
          payload = { inherit modules specialArgs shorthandOnlyDefinesConfig description class; };
          binOp = lhs: rhs: {
            modules = lhs.modules ++ rhs.modules;
            specialArgs = lhs.specialArgs // rhs.specialArgs;
            shorthandOnlyDefinesConfig = if lhs.shorthandOnlyDefinesConfig == rhs.shorthandOnlyDefinesConfig then lhs.shorthandOnlyDefinesConfig else null;
            description = if lhs.description == null then rhs.description else lhs.description;
            class = if lhs.class == null then rhs.class else lhs.class;
          };
        };
      };

    deferredModule = deferredModuleWith { };
    deferredModuleWith = { staticModules ? [ ] }: mkOptionType {
      name = "deferredModule";
      description = "module";
      descriptionClass = "noun";
      check = x: isAttrs x || isFunction x || isPath x;
      merge = loc: defs: { imports = staticModules ++ map (def: lib.modules.setDefaultModuleLocation "${def.file}, via option ${showOption loc}" def.value) defs; };
      getSubOptions = prefix: (lib.modules.evalModules { modules = staticModules; inherit prefix; }).options;
      getSubModules = staticModules;
      substSubModules = m: deferredModuleWith { staticModules = m; };
      functor = defaultFunctor "deferredModuleWith" // { type = deferredModuleWith; payload = { inherit staticModules; }; binOp = lhs: rhs: { staticModules = lhs.staticModules ++ rhs.staticModules; }; };
    };
  };

  flip = f: a: b: f b a;
in
types
