# Kiln's additions to `lib` (not in nixpkgs): the assertions/warnings module NixOS
# configurations expect, the check that applies them, and the option listing that
# `kiln os options` prints.
{ lib }:
let
  inherit (builtins) tryEval isString concatStringsSep filter map;
in
rec {
  # A module declaring `assertions` (`[ { assertion, message } ]`) and `warnings` (`[ str ]`).
  assertionsModule = ./assertions-module.nix;
  # `value` once every failed assertion of `config` has become one error and every warning
  # has been printed.
  checkAssertWarn = config: value:
    let failed = map (x: x.message) (filter (x: !x.assertion) config.assertions);
    in if failed != [ ] then
      throw "\nFailed assertions:\n${lib.strings.concatMapStrings (x: "- ${x}\n") failed}"
    else lib.trivial.showWarnings config.warnings value;

  # Every option of an evaluation's `options` (submodule options under `<name>`), as
  # `{ name, type, default?, example?, description, declarations, internal, visible,
  # readOnly }` with texts only: `default`/`example` as Nix text (`<error>` when they
  # cannot be evaluated), `declarations` as `file:line` where known, else the file.
  optionsList = options:
    map (o:
      let
        text = v: let t = tryEval (if isString v.text then v.text else "<error>"); in if t.success then t.value else "<error>";
        field = name: let t = tryEval (o ? ${name}); in lib.attrsets.optionalAttrs (t.success && t.value) { ${name} = text o.${name}; };
        description = let t = tryEval (o.description or null); in if t.success then t.value else null;
      in {
        inherit (o) name type internal readOnly;
        visible = o.visible == true;
        description = if description == null then "" else description;
        declarations = o.declarationLocations;
      } // field "default" // field "example"
    ) (lib.options.optionAttrSetToDocList options);

  # `optionsList` as JSON.
  optionsJSON = options: builtins.toJSON (optionsList options);

  # The visible, non-internal options of `optionsList` as text: each option's name, then
  # its type, default, example, description and declarations, indented.
  optionsText = options: concatStringsSep "\n" (map (o:
    let indent = s: concatStringsSep "\n    " (lib.strings.splitString "\n" s); in
    concatStringsSep "\n" ([ o.name "  type: ${o.type}" ]
      ++ lib.lists.optional (o ? default) "  default: ${indent o.default}"
      ++ lib.lists.optional (o ? example) "  example: ${indent o.example}"
      ++ lib.lists.optional (o.description != "") "  description: ${indent (lib.strings.removeSuffix "\n" o.description)}"
      ++ map (d: "  declared in: ${d}") o.declarations) + "\n"
  ) (filter (o: o.visible && !o.internal) (optionsList options)));
}
