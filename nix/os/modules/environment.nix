# `environment.systemPackages`: the packages of `/run/current-system/sw` (the toplevel's `sw`).
{ config, lib, pkgs, ... }:
with lib;
{
  options = {
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = literalExample "[ pkgs.busybox ]";
      description = "The packages installed system-wide, in `/run/current-system/sw`.";
    };

    environment.defaultPackages = mkOption {
      type = types.listOf types.package;
      default = [ pkgs.busybox ];
      defaultText = "[ pkgs.busybox ]";
      description = ''
        Packages added to `environment.systemPackages` on every system (a shell and the basic
        commands). Set it to `[ ]` for a system without them.
      '';
    };

    environment.pathsToLink = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/share/doc" ];
      description = "Extra directories of the packages to link into `sw` (passed to buildEnv).";
    };

    system.path = mkOption {
      type = types.package;
      internal = true;
      readOnly = true;
      description = "The buildEnv of the system packages (the toplevel's `sw`).";
    };
  };

  config = {
    system.path = pkgs.buildEnv ({
      name = "system-path";
      paths = config.environment.systemPackages ++ config.environment.defaultPackages;
    } // optionalAttrs (config.environment.pathsToLink != [ ]) {
      pathsToLink = [ "/bin" "/sbin" "/lib" "/share" "/etc" ] ++ config.environment.pathsToLink;
    });
  };
}
