# `assertions` and `warnings`, as in NixOS: modules add to them; the toplevel (toplevel.nix)
# fails with every failed assertion's message at once, and prints each warning.
{ lib, ... }:
with lib;
{
  options = {
    assertions = mkOption {
      type = types.listOf (types.submodule {
        options = {
          assertion = mkOption {
            type = types.bool;
            description = "What must hold.";
          };
          message = mkOption {
            type = types.str;
            description = "The error shown when the assertion fails.";
          };
        };
      });
      default = [ ];
      example = [ { assertion = false; message = "you can't enable this for that reason"; } ];
      description = ''
        Conditions the configuration must satisfy. When any fails, building the system fails
        with the messages of all failed assertions.
      '';
    };

    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "The `foo' service is deprecated and will go away soon!" ];
      description = "Messages printed when the system is evaluated.";
    };
  };
}
