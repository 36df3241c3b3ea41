# `specialisation.<name>`: variants of the system, each its own toplevel under the parent's
# `specialisation/<name>` (the parent configuration plus the variant's module).
{ config, lib, kilnEvalChild, ... }:
with lib;
let
  # A module given in pieces: every definition is kept (with its file, for errors), and the
  # variant imports them all.
  module = (lib.mkOptionType or types.mkOptionType) {
    name = "module";
    description = "module";
    check = x: isAttrs x || isFunction x || isPath x || isString x;
    merge = loc: defs: {
      imports = map (d: { _file = d.file; imports = [ d.value ]; }) defs;
    };
  };
in
{
  options.specialisation = mkOption {
    type = types.attrsOf (types.submodule {
      options.configuration = mkOption {
        type = module;
        default = { };
        description = "A module added to the parent configuration for this variant.";
      };
    });
    default = { };
    example = literalExample ''{ debug.configuration.boot.kernelParams = [ "debug" ]; }'';
    description = "Variants of this system, by name.";
  };

  options.system.build.specialisations = mkOption {
    type = types.attrsOf types.package;
    internal = true;
    readOnly = true;
    description = "Each specialisation's toplevel.";
  };

  config = {
    assertions = mapAttrsToList (n: _: {
      assertion = builtins.match "[A-Za-z0-9_-]+" n != null;
      message = "specialisation.\"${n}\": the name may only have letters, digits, `_` and `-`";
    }) config.specialisation;

    system.build.specialisations =
      mapAttrs (_: s: kilnEvalChild s.configuration) config.specialisation;
  };
}
