# The release and version of the system, and `system.stateVersion`.
{ config, lib, ... }:
with lib;
let
  cfg = config.system.nixos;
in
{
  options = {
    system.nixos.release = mkOption {
      type = types.str;
      default = "18.03";
      readOnly = true;
      description = "The NixOS release these modules follow.";
    };

    system.nixos.version = mkOption {
      type = types.str;
      default = "${cfg.release}.kiln";
      defaultText = "\${config.system.nixos.release}.kiln";
      description = "The full version, written to the toplevel's `nixos-version`.";
    };

    system.nixos.label = mkOption {
      type = types.strMatching "[a-zA-Z0-9:_\\.-]*";
      default = cfg.version;
      defaultText = "config.system.nixos.version";
      description = "The label of boot entries (`boot.json`'s `label` starts with it).";
    };

    system.stateVersion = mkOption {
      type = types.str;
      default = cfg.release;
      defaultText = "config.system.nixos.release";
      description = ''
        The release whose defaults stateful data (databases, home directories) was created
        with. Set it once, when the system is installed, and keep it.
      '';
    };
  };

  config = {
    environment.etc."os-release".text = ''
      NAME=NixOS
      ID=nixos
      VERSION="${cfg.version}"
      VERSION_ID="${cfg.version}"
      PRETTY_NAME="NixOS ${cfg.version} (Kiln)"
      HOME_URL="https://nixos.org/"
    '';
  };
}
