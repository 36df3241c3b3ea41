# The module system: `evalModules` collects modules (`imports`, `disabledModules`), merges
# their option declarations, and gives every option the merge of its definitions by
# priority (`mkOverride`), condition (`mkIf`), grouping (`mkMerge`) and order (`mkOrder`).
#
# A definition is `{ file, value, pos }`; `pos` (from `builtins.unsafeGetAttrPos` on the
# attribute that wrote it, or null) gives errors their `file:line`. Config values are split
# attribute by attribute without forcing `mkIf` conditions, so `mkIf config.x { … }` does not
# recurse; every split is one `zipAttrsWith` over the definitions of a level.
{ lib }:
let
  inherit (builtins) isAttrs isList isString isBool isFunction isPath length head tail
    attrNames filter concatMap map mapAttrs zipAttrsWith foldl' all any elem genericClosure
    removeAttrs unsafeGetAttrPos sort;
  inherit (lib.options) isOption mkOption showOption showFiles showDefs showDefLocation unknownModule;
  types = lib.types;

  defaultOverridePriority = 100;
  defaultOrderPriority = 1000;

  posText = pos: if pos == null then null else "${toString pos.file}:${toString pos.line}";
  declText = file: pos: if pos == null then toString file else posText pos;

  # `v` as `[ { set, wrap } ]`: the attribute sets it stands for, each with the properties
  # (mkIf/mkOverride/mkOrder) that must wrap each of its attribute values.
  splitProperties = v: splitWith (x: x) v;
  splitWith = wrap: v:
    let t = v._type or null; in
    if t == "merge" then concatMap (splitWith wrap) v.contents
    else if t == "if" then splitWith (x: wrap (mkIf v.condition x)) v.content
    else if t == "override" then splitWith (x: wrap (mkOverride v.priority x)) v.content
    else if t == "order" then splitWith (x: wrap (mkOrder v.priority x)) v.content
    else if isAttrs v then [ { set = v; inherit wrap; } ]
    else throw "A module's configuration must be an attribute set, but it is ${builtins.typeOf v}: ${lib.generators.toPretty { } v}";

  # A definition's values once mkMerge and mkIf are resolved.
  dischargeProperties = v:
    let t = v._type or null; in
    if t == "merge" then concatMap dischargeProperties v.contents
    else if t == "if" then
      (if isBool v.condition then (if v.condition then dischargeProperties v.content else [ ])
       else throw "mkIf called with a non-Boolean condition")
    else if t == "override" && (let ct = v.content._type or null; in ct == "merge" || ct == "if") then
      map (c: mkOverride v.priority c) (dischargeProperties v.content)
    else [ v ];

  getPrio = def: if def.value._type or null == "override" then def.value.priority else defaultOverridePriority;
  filterOverrides' = defs:
    let
      highestPrio = foldl' (prio: def: let p = getPrio def; in if p < prio then p else prio) 9999 defs;
      strip = def: if def.value._type or null == "override" then def // { value = def.value.content; } else def;
    in {
      values = concatMap (def: if getPrio def == highestPrio then [ (strip def) ] else [ ]) defs;
      inherit highestPrio;
    };
  filterOverrides = defs: (filterOverrides' defs).values;

  sortProperties = defs:
    let
      strip = def: if def.value._type or null == "order"
        then def // { value = def.value.content; inherit (def.value) priority; } else def;
      defs' = map strip defs;
    in sort (a: b: (a.priority or defaultOrderPriority) < (b.priority or defaultOrderPriority)) defs';

  # The merge of `defs` for an option of type `type` at `loc`.
  mergeDefinitions = loc: type: defs:
    let
      discharged = concatMap (def:
        map (v: { inherit (def) file; pos = def.pos or null; value = v; }) (dischargeProperties def.value)
      ) defs;
      overridden = filterOverrides' discharged;
      ordered =
        if any (def: def.value._type or null == "order") overridden.values
        then sortProperties overridden.values else overridden.values;
      defsFinal' = { values = ordered; inherit (overridden) highestPrio; };
      defsFinal = ordered;
      isDefined = defsFinal != [ ];
      bad = filter (def: !type.check def.value) defsFinal;
      mergedValue =
        # Undefined, a type with an empty value (`[ ]`, `{ }`, null, a submodule's defaults)
        # gives that, as newer nixpkgs do; others are an error.
        if !isDefined then
          (if type ? emptyValue && type.emptyValue ? value then
            (if type.name == "submodule" then type.merge loc [ ] else type.emptyValue.value)
           else throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.")
        else if bad != [ ] then
          throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:${showDefs bad}"
        else type.merge loc defsFinal;
    in {
      inherit defsFinal defsFinal' isDefined mergedValue;
      optionalValue = if isDefined then { value = mergedValue; } else { };
    };

  # The declarations `decls` (`[ { file, options, pos } ]`, each `options` an option) as one option.
  mergeOptionDecls = loc: decls:
    let
      merged = foldl' (res: d:
        let
          # The declaring file becomes the file of the type's submodules (their options'
          # `declarations`).
          opt = if d.options.type.getSubModules or null != null
            then d.options // { type = d.options.type.substSubModules (map (setDefaultModuleLocation d.file) d.options.type.getSubModules); }
            else d.options;
          conflict = (opt ? default && res ? default) || (opt ? example && res ? example)
            || (opt ? description && res ? description) || (opt ? apply && res ? apply);
          type =
            if !(opt ? type) || opt.type == null then res.type or null
            else if res.type or null == null then opt.type
            else res.type.typeMerge opt.type.functor;
          # `options = [ … ]` (NixOS 18.03's form): sub-option sets, or modules when functions;
          # ignored, as there, when the type has its own submodules.
          subModules = if opt.options or null == null || (opt.type.getSubModules or null) != null then [ ] else map (o:
            setDefaultModuleLocation d.file (if isFunction o then o else { options = o; })
          ) (lib.lists.toList opt.options);
        in
        if conflict || (opt ? type && opt.type != null && type == null) then
          throw "The option `${showOption loc}' in `${declText d.file d.pos}' is already declared in ${showFiles (lib.lists.zipListsWith declText res.declarations res.declarationPositions)}."
        else removeAttrs res [ "type" ] // removeAttrs opt [ "type" "options" ] // {
          declarations = res.declarations ++ [ d.file ];
          declarationPositions = res.declarationPositions ++ [ d.pos ];
          options = res.options ++ subModules;
        } // lib.attrsets.optionalAttrs (type != null) { inherit type; }
      ) { declarations = [ ]; declarationPositions = [ ]; options = [ ]; } decls;
      type0 = merged.type or types.unspecified;
      type = if merged.options != [ ] then type0.substSubModules (type0.getSubModules ++ merged.options) else type0;
    in removeAttrs merged [ "options" ] // { inherit type; };

  # The option record of `opt` at `loc` with its definitions `defs`.
  evalOptionValue = loc: opt: defs:
    let
      defaultDef = {
        file = head opt.declarations;
        pos = unsafeGetAttrPos "default" opt;
        value = mkOptionDefault opt.default;
      };
      defs' = lib.lists.optional (opt ? default) defaultDef ++ defs;
      res =
        if opt.readOnly or false && length defs' > 1 then
          throw "The option `${showOption loc}' is read-only, but it's set multiple times. Definition values:${showDefs defs'}"
        else mergeDefinitions loc opt.type defs';
      value = if opt ? apply then opt.apply res.mergedValue else res.mergedValue;
    in opt // {
      value = builtins.addErrorContext "while evaluating the option `${showOption loc}':" value;
      inherit (res.defsFinal') highestPrio;
      definitions = map (def: def.value) res.defsFinal;
      files = map (def: def.file) res.defsFinal;
      definitionsWithLocations = map (def: { inherit (def) file value; } // lib.attrsets.optionalAttrs (def.pos != null) { inherit (def) pos; }) res.defsFinal;
      inherit (res) isDefined;
      inherit loc;
    };

  # One level of the option tree: `decls` (`[ { file, options } ]`) and `defs`
  # (`[ { file, set, wrap } ]`) at `loc`; gives `{ options, config, unmatched }`.
  mergeLevel = loc: decls: defs:
    let
      declsByName = zipAttrsWith (n: ds: ds) (map (d:
        mapAttrs (n: v: { inherit (d) file; options = v; pos = unsafeGetAttrPos n d.options; }) d.options
      ) decls);
      defsByName = zipAttrsWith (n: ds: ds) (map (d:
        mapAttrs (n: v: { inherit (d) file; value = d.wrap v; pos = unsafeGetAttrPos n d.set; }) d.set
      ) defs);
      children = mapAttrs (name: ds:
        let
          loc' = loc ++ [ name ];
          defs' = defsByName.${name} or [ ];
          optDecls = filter (d: isOption d.options) ds;
          nonOpt = filter (d: !isOption d.options) ds;
          asOption = decls': let o = evalOptionValue loc' (mergeOptionDecls loc' decls') defs'; in
            { option = o; value = o.value; unmatched = [ ]; };
        in
        if optDecls == [ ] then
          let sub = mergeLevel loc' ds (concatMap (def:
                map (s: { inherit (def) file; inherit (s) set wrap; }) (splitProperties def.value)) defs');
          in {
            inherit (sub) options;
            value = sub.config;
            unmatched = map (u: u // { prefix = [ name ] ++ u.prefix; }) sub.unmatched;
          }
        else if nonOpt == [ ] then asOption ds
        else if all (d: (d.options.type or { }).name or null == "submodule") optDecls then
          asOption (optDecls ++ map (d: d // { options = mkOption { type = types.submoduleWith { modules = [ { options = d.options; } ]; shorthandOnlyDefinesConfig = true; }; }; }) nonOpt)
        else
          let o = head optDecls; n = head nonOpt; in
          throw "The option `${showOption loc'}' in `${declText o.file o.pos}' is a prefix of options in `${declText n.file n.pos}'; its type `${(o.options.type or types.unspecified).description}' does not support nested options."
      ) declsByName;
      unmatchedHere = concatMap (name:
        # A definition that resolves to nothing (`mkIf false …`) is no error, as in nixpkgs.
        if declsByName ? ${name} then [ ]
        else map (def: def // { prefix = [ name ]; })
          (filter (def: dischargeProperties def.value != [ ]) defsByName.${name})
      ) (attrNames defsByName);
    in {
      options = mapAttrs (n: c: c.option or c.options) children;
      config = mapAttrs (n: c: c.value) children;
      unmatched = unmatchedHere ++ concatMap (n: children.${n}.unmatched) (attrNames children);
    };

  # A module (path, function or attribute set) in its full form
  # `{ _file, key, imports, disabledModules, options, config }`.
  unifyModuleSyntax = file: key: m:
    let
      # A module's `meta` (maintainers, doc) and `freeformType` are definitions of `meta` and
      # `_module.freeformType`.
      addFreeform = config:
        if m ? freeformType || (structured && m ? meta) then mkMerge ([ config ]
          ++ lib.lists.optional (m ? freeformType) { _module.freeformType = m.freeformType; }
          ++ lib.lists.optional (structured && m ? meta) { meta = m.meta; })
        else config;
      structured = m ? config || m ? options;
      bad = removeAttrs m [ "_file" "key" "disabledModules" "imports" "options" "config" "meta" "freeformType" "_class" ];
    in
    if !isAttrs m then
      throw "The module `${key}' (in `${toString file}') is not an attribute set or a function returning one, but ${builtins.typeOf m}"
    else if structured && bad != { } then
      throw "Module `${key}' has an unsupported attribute `${head (attrNames bad)}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${toString (attrNames bad)}) into the explicit `config' attribute."
    else {
      _file = toString (m._file or file);
      key = toString (m.key or key);
      disabledModules = m.disabledModules or [ ];
      imports = (m.require or [ ]) ++ (m.imports or [ ]);
      options = m.options or { };
      config = addFreeform (if structured then m.config or { }
        else removeAttrs m [ "_file" "key" "disabledModules" "require" "imports" "freeformType" "_class" ]);
    };

  # Arguments: a module `{ config, pkgs, ... }: …` gets `config`, `options`, `lib`,
  # `specialArgs` and every other name from `specialArgs` or `config._module.args`.
  applyModuleArgs = key: args: config: f:
    let
      context = name: "while evaluating the module argument `${name}' in \"${key}\":";
      extraArgs = mapAttrs (name: _:
        builtins.addErrorContext (context name) (args.${name} or config._module.args.${name} or
          (throw "The module `${key}' needs the argument `${name}', which neither `specialArgs' nor `_module.args' gives"))
      ) (lib.trivial.functionArgs f);
    in f (args // extraArgs);

  evalModules = evalModulesArgs@{ modules, prefix ? [ ], args ? { }, specialArgs ? { }, check ? true, class ? null }:
    let
      internalModule = {
        _file = toString ./modules.nix;
        key = toString ./modules.nix;
        options._module = {
          args = mkOption {
            # Not `raw`: NixOS 18.03's manual re-evaluates the modules with `args` holding
            # what `_module.args` already defines, so equal names merge as `unspecified` does.
            type = types.lazyAttrsOf types.unspecified;
            internal = true;
            description = "Additional arguments passed to each module in addition to ones like `lib`, `config`, and `pkgs`, `modulesPath`.";
          };
          check = mkOption {
            type = types.bool;
            internal = true;
            default = true;
            description = "Whether to check whether all option definitions have matching declarations.";
          };
          freeformType = mkOption {
            type = types.nullOr types.optionType;
            internal = true;
            default = null;
            description = "If set, merge all definitions that don't have an associated option together using this type.";
          };
          specialArgs = mkOption {
            readOnly = true;
            internal = true;
            description = "Externally provided module arguments that can't be modified from within a configuration, but can be used in module imports.";
          };
        };
        config._module = {
          args = { inherit extendModules; moduleType = type; } // args;
          check = mkDefault check;
          specialArgs = specialArgs;
        };
      };

      moduleArgs = { inherit lib options config specialArgs; _class = class; } // specialArgs;

      # `[ { key, module } ]` for `ms` imported from `file` (a module named `parentKey`).
      load = file: parentKey: ms:
        lib.lists.imap1 (n: m:
          let
            pathLike = isPath m || isString m;
            file' = if pathLike then toString m else file;
            key = if pathLike then toString m
              else if isAttrs m && !(m ? __functor) && m ? key then toString m.key
              else "${parentKey}:anon-${toString n}";
            raw = if pathLike then import m else m;
            applied = if lib.trivial.isFunction raw then applyModuleArgs key moduleArgs config raw else raw;
            module = unifyModuleSyntax file' key applied;
          in { inherit key module; children = load module._file module.key module.imports; }
        ) ms;

      top = load unknownModule "" ([ internalModule ] ++ modules);
      everything = genericClosure { startSet = top; operator = item: item.children; };
      disabledKey = m:
        if isAttrs m then toString m.key
        else if isString m && !(lib.strings.hasPrefix "/" m) then "${toString (specialArgs.modulesPath or "")}/${m}"
        else toString m;
      disabled = concatMap (item: map disabledKey item.module.disabledModules) everything;
      # A disabled module is left out with what it imports (unless imported elsewhere too),
      # as newer nixpkgs do; nixpkgs 18.03 kept the imports.
      keep = filter (item: !(elem item.key disabled));
      collected = map (item: item.module)
        (if disabled == [ ] then everything
         else genericClosure { startSet = keep top; operator = item: keep item.children; });

      # Like nixpkgs, definitions (and declarations) are taken in the reverse of the collected
      # order: a later module's list elements come first.
      ordered = lib.lists.reverseList collected;
      merged = mergeLevel prefix
        (map (m: { file = m._file; inherit (m) options; }) ordered)
        (concatMap (m: map (s: { file = m._file; inherit (s) set wrap; }) (splitProperties m.config)) ordered);

      options = merged.options;
      declared = merged.config;
      freeformType = declared._module.freeformType;
      config =
        if freeformType == null then declared
        else lib.attrsets.recursiveUpdate
          (freeformType.merge prefix (map (d: { inherit (d) file pos; value = lib.attrsets.setAttrByPath d.prefix d.value; }) merged.unmatched))
          declared;

      checkUnmatched =
        if declared._module.check && freeformType == null && merged.unmatched != [ ] then
          let d = head merged.unmatched; in
          throw "The option `${showOption (prefix ++ d.prefix)}' does not exist. Definition values:${showDefs [ d ]}"
        else null;
      checked = builtins.seq checkUnmatched;

      extendModules = extendArgs@{ modules ? [ ], specialArgs ? { }, prefix ? [ ] }:
        evalModules (evalModulesArgs // {
          modules = evalModulesArgs.modules ++ modules;
          specialArgs = (evalModulesArgs.specialArgs or { }) // specialArgs;
          prefix = extendArgs.prefix or evalModulesArgs.prefix or [ ];
        });

      type = types.submoduleWith { inherit modules specialArgs class; };

      result = {
        options = checked options;
        config = checked (removeAttrs config [ "_module" ]);
        _module = checked config._module;
        inherit extendModules type class;
      };
    in result;

  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkAssert = assertion: message: content:
    mkIf (if assertion then true else throw "\nFailed assertion: ${message}") content;
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkImageMediaOverride = mkOverride 60;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10;
  mkOrder = priority: content: { _type = "order"; inherit priority content; };
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;

  # Definitions of `option` (an option record) applied elsewhere, kept under the same
  # condition (defined) and priority.
  mkAliasIfDef = option: mkIf (isOption option && option.isDefined);
  mkAliasDefinitions = mkAliasAndWrapDefinitions (x: x);
  mkAliasAndWrapDefinitions = wrap: option: mkAliasIfDef option (wrap (mkMerge option.definitions));
  mkAliasAndWrapDefsWithPriority = wrap: option:
    let prio = option.highestPrio or defaultOverridePriority;
    in mkAliasIfDef option (wrap (mkOverride prio (mkMerge option.definitions)));

  # `from` renamed to `to`: definitions of `from` go to `to`, with a warning when `warn`.
  doRename = { from, to, visible, warn, use, withPriority ? true, condition ? true }:
    { config, options, ... }:
    let
      fromOpt = lib.attrsets.getAttrFromPath from options;
      toOf = lib.attrsets.attrByPath to (abort "Renaming error: option `${showOption to}' does not exist.");
    in {
      # As NixOS 18.03 documents aliases: visible, untyped, described in DocBook.
      options = lib.attrsets.setAttrByPath from (mkOption {
        description = "Alias of <option>${showOption to}</option>.";
        apply = x: use (toOf config);
      } // lib.attrsets.optionalAttrs (visible != null) { inherit visible; });
      config = mkIf condition (mkMerge [
        (lib.attrsets.optionalAttrs (options ? warnings) {
          warnings = lib.lists.optional (warn && fromOpt.isDefined)
            "The option `${showOption from}' defined in ${showFiles fromOpt.files} has been renamed to `${showOption to}'.";
        })
        (if withPriority then mkAliasAndWrapDefsWithPriority (lib.attrsets.setAttrByPath to) fromOpt
         else mkAliasAndWrapDefinitions (lib.attrsets.setAttrByPath to) fromOpt)
      ]);
    };
  mkRenamedOptionModule = from: to: doRename {
    inherit from to;
    visible = null;
    warn = true;
    use = builtins.trace "Obsolete option `${showOption from}' is used. It was renamed to `${showOption to}'.";
  };
  mkRenamedOptionModuleWith = { from, to, sinceRelease }: doRename {
    inherit from to;
    visible = null;
    warn = lib.trivial.isInOldestRelease sinceRelease;
    use = lib.trivial.warnIf (lib.trivial.isInOldestRelease sinceRelease)
      "Obsolete option `${showOption from}' is used. It was renamed to `${showOption to}'.";
  };
  mkAliasOptionModule = from: to: doRename { inherit from to; visible = null; warn = false; use = x: x; };
  mkAliasOptionModuleMD = mkAliasOptionModule;
  mkRemovedOptionModule = optionName: replacementInstructions:
    { options, ... }: {
      options = lib.attrsets.setAttrByPath optionName (mkOption {
        visible = false;
        apply = x: throw "The option `${showOption optionName}' can no longer be used since it's been removed. ${replacementInstructions}";
      });
      # An assertion where `assertions` is declared (not in every submodule); elsewhere a
      # definition fails when the option is read.
      config = lib.attrsets.optionalAttrs (options ? assertions) {
        assertions =
          let opt = lib.attrsets.getAttrFromPath optionName options; in [ {
            assertion = !opt.isDefined;
            message = ''
              The option definition `${showOption optionName}' in ${showFiles opt.files} no longer has any effect; please remove it.
              ${replacementInstructions}
            '';
          } ];
      };
    };
  mkChangedOptionModule = from: to: changeFn: mkMergedOptionModule [ from ] to changeFn;
  mkMergedOptionModule = from: to: mergeFn:
    { config, options, ... }: {
      options = lib.lists.foldl' lib.attrsets.recursiveUpdate { } (map (path:
        lib.attrsets.setAttrByPath path (mkOption { visible = false; default = "_mkMergedOptionModule"; })
      ) from);
      config = {
        warnings = lib.lists.filter (x: x != "") (map (f:
          let val = lib.attrsets.getAttrFromPath f config; opt = lib.attrsets.getAttrFromPath f options; in
          lib.strings.optionalString (val != "_mkMergedOptionModule")
            "The option `${showOption f}' defined in ${showFiles opt.files} has been changed to `${showOption to}' that has a different type. Please read `${showOption to}' documentation and update your configuration accordingly."
        ) from);
      } // lib.attrsets.setAttrByPath to (mkMerge (lib.lists.optional
        (lib.lists.any (f: (lib.attrsets.getAttrFromPath f config) != "_mkMergedOptionModule") from)
        (mergeFn config)));
    };

  setDefaultModuleLocation = file: m: { _file = file; imports = [ m ]; };
  mkDerivedConfig = opt: f:
    mkOverride (opt.highestPrio or defaultOverridePriority) (f opt.value);
  importJSON = file: { _file = file; config = lib.trivial.importJSON file; };
  importTOML = file: { _file = file; config = lib.trivial.importTOML file; };

  # The compatibility form of `splitProperties`: each set with its properties pushed into its values.
  pushDownProperties = cfg: map (s: mapAttrs (n: v: s.wrap v) s.set) (splitProperties cfg);
in
{
  inherit evalModules mergeDefinitions evalOptionValue mergeOptionDecls unifyModuleSyntax
    splitProperties pushDownProperties dischargeProperties filterOverrides filterOverrides'
    sortProperties mkIf mkAssert mkMerge mkOverride mkOptionDefault mkDefault
    mkImageMediaOverride mkForce mkVMOverride mkOrder mkBefore mkAfter mkAliasIfDef
    mkAliasDefinitions mkAliasAndWrapDefinitions mkAliasAndWrapDefsWithPriority doRename
    mkRenamedOptionModule mkRenamedOptionModuleWith mkAliasOptionModule mkAliasOptionModuleMD
    mkRemovedOptionModule mkChangedOptionModule mkMergedOptionModule setDefaultModuleLocation
    mkDerivedConfig defaultOverridePriority defaultOrderPriority;
  defaultPriority = defaultOverridePriority;
  mkFixStrictness = x: x;
}
