# A small module system (options with types and defaults, definitions merged by priority,
# mkIf/mkMerge/mkOverride) evaluating a configuration of ~1000 options from 50 modules:
# the kind of code NixOS evaluation spends its time in.
let
  inherit (builtins) attrNames foldl' listToAttrs genList filter map concatLists head sort;
  mkOption = { default ? null, type ? "any" }: { _type = "option"; inherit default type; };
  mkIf = cond: content: { _type = "if"; inherit cond content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkForce = mkOverride 50;
  # Flatten one definition into a list of { priority; value; }.
  pushDown = def:
    if builtins.isAttrs def && def ? _type then
      if def._type == "if" then (if def.cond then pushDown def.content else [ ])
      else if def._type == "merge" then concatLists (map pushDown def.contents)
      else if def._type == "override" then map (d: d // { priority = def.priority; }) (pushDown def.content)
      else [ { priority = 100; value = def; } ]
    else [ { priority = 100; value = def; } ];
  mergeOption = name: opt: defs:
    let
      flat = concatLists (map pushDown defs);
      best = foldl' (m: d: if d.priority < m then d.priority else m) 1000 flat;
      winners = filter (d: d.priority == best) flat;
      values = map (d: d.value) winners;
    in
      if flat == [ ] then opt.default
      else if opt.type == "int" then foldl' (a: b: if b > a then b else a) 0 values
      else if opt.type == "list" then concatLists values
      else if opt.type == "str" then builtins.concatStringsSep "\n" values
      else head values;
  evalModules = modules:
    let
      config = listToAttrs (map (name: {
        inherit name;
        value = mergeOption name options.${name}
          (concatLists (map (m: if m.config ? ${name} then [ m.config.${name} ] else [ ]) evaluated));
      }) (attrNames options));
      evaluated = map (m: m { inherit config; }) modules;
      options = foldl' (acc: m: acc // (m.options or { })) { } evaluated;
    in config;
  nModules = 50;
  perModule = 20;
  module = j: { config }: {
    options = listToAttrs (genList (k: {
      name = "opt_${toString j}_${toString k}";
      value = mkOption {
        default = k;
        type = if k / 3 * 3 == k then "int" else if k / 3 * 3 + 1 == k then "list" else "str";
      };
    }) perModule);
    config = listToAttrs (genList (k:
      let
        target = "opt_${toString ((j + k) - (j + k) / nModules * nModules)}_${toString k}";
        ty = if k / 3 * 3 == k then "int" else if k / 3 * 3 + 1 == k then "list" else "str";
        v = if ty == "int" then j * k else if ty == "list" then [ j k ] else "m${toString j}";
      in {
        name = target;
        value = if j / 7 * 7 == j then mkForce v
          else mkMerge [ (mkIf (config.opt_0_0 >= 0) v) (mkIf false v) ];
      }) perModule);
  };
  cfg = evalModules (genList module nModules);
in
  foldl' (acc: name: acc + (let v = cfg.${name}; in
    if builtins.isInt v then v else if builtins.isList v then builtins.length v else builtins.stringLength v))
    0 (attrNames cfg)
