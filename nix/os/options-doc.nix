# The list of every visible option, for `kiln os options`: each
# { loc; name; type; description; declarations; readOnly; default? | defaultText?; example?; }
# where `declarations` are "FILE:LINE" (or "FILE" when the line is not known) and values are
# rendered as Nix-like text. The lines come from the options' `declarationPositions` (Kiln's lib
# has them), else from reading the declaring module again.
{ lib, options }:
with lib;
let
  # Renders a value as short Nix-like text, without forcing derivations or functions.
  render = v:
    let r = builtins.tryEval (
      if builtins.isAttrs v && v.type or null == "derivation" then "«derivation ${v.name or "?"}»"
      else if builtins.isFunction v then "«lambda»"
      else if v == null then "null"
      else if builtins.isBool v then (if v then "true" else "false")
      else if builtins.isInt v || builtins.isFloat v then toString v
      else if builtins.isString v then builtins.toJSON v
      else if builtins.isPath v then toString v
      else if builtins.isList v then "[ " + concatMapStrings (x: render x + " ") v + "]"
      else if builtins.isAttrs v then
        (if v ? _type && (v._type == "literalExample" || v._type == "literalExpression") then v.text
         else "{ " + concatStrings (mapAttrsToList (n: x: "${n} = ${render x}; ") v) + "}")
      else "«unknown»");
    in if r.success then r.value else "«error»";

  # "FILE:LINE" of the option `loc` declared in `file`, found by reading the module again.
  position = loc: file:
    if !(hasPrefix "/" file) then file else
    let
      tried = builtins.tryEval (
        let
          m = import file;
          m' = if isFunction m
            then m (mapAttrs (n: _: throw "options-doc: `${n}' is not available")
              (builtins.functionArgs m) // { inherit lib; })
            else m;
          decls = m'.options or { };
          parent = attrByPath (init loc) null decls;
          pos = if isAttrs parent then builtins.unsafeGetAttrPos (last loc) parent else null;
        in
        if pos == null || pos.file != file then file else "${file}:${toString pos.line}");
    in
    if tried.success then tried.value else file;

  optionEntry = opt: {
    inherit (opt) loc;
    name = showOption opt.loc;
    type = opt.type.description or "unspecified";
    description = opt.description or "";
    readOnly = opt.readOnly or false;
    declarations =
      if opt ? declarationPositions then
        zipListsWith (f: p:
          # A position inside another file (e.g. lib's genAttrs) says nothing of the module.
          if p != null && (p.file == toString f || !hasPrefix "/" (toString f))
          then "${p.file}:${toString p.line}"
          else position opt.loc (toString f))
          opt.declarations opt.declarationPositions
      else map (f: position opt.loc (toString f)) opt.declarations;
  } // (if opt ? defaultText then { default = opt.defaultText; }
       else optionalAttrs (opt ? default) { default = render opt.default; })
    // optionalAttrs (opt ? example) { example = render opt.example; };

  collect = opts: concatMap (v:
    if isOption v then
      (if (v.visible or true) && !(v.internal or false) then [ (optionEntry v) ] else [ ])
      ++ collect (v.type.getSubOptions v.loc)
    else if builtins.isAttrs v then collect v
    else [ ]) (attrValues (removeAttrs opts [ "_module" ]));
in
collect options
