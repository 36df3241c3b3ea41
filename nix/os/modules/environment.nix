# `environment.systemPackages`: the packages of `/run/current-system/sw` (the toplevel's `sw`).
# With systemd (`systemd.package`), `sw/bin` has its `systemctl` and, as links to it, the
# `poweroff`, `reboot`, `halt` and `shutdown` that ask systemd (busybox's, in the default
# packages, would signal PID 1 the way busybox's init wants, which systemd takes for other
# requests); they replace any other package's commands of those names.
{ config, lib, pkgs, ... }:
with lib;
let
  systemd = config.systemd.package;
  power = [ "poweroff" "reboot" "halt" "shutdown" ];
in
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

    environment.variables = mkOption {
      type = types.attrsOf (types.either types.str (types.listOf types.str));
      default = { };
      example = { EDITOR = "vi"; };
      description = ''
        Environment variables of login shells, set in /etc/profile (a list is joined with
        `:`).
      '';
    };

    environment.shellInit = mkOption {
      type = types.lines;
      default = "";
      description = "Shell commands run by /etc/profile, after the variables are set.";
    };

    system.path = mkOption {
      type = types.package;
      internal = true;
      readOnly = true;
      description = "The buildEnv of the system packages (the toplevel's `sw`).";
    };
  };

  config = {
    environment.variables.PATH =
      mkDefault [ "/run/current-system/sw/bin" "/run/current-system/sw/sbin" ];

    environment.etc.profile.text = ''
      # /etc/profile: generated from environment.variables and environment.shellInit.
    '' + concatStrings (mapAttrsToList (n: v:
      "export ${n}=${escapeShellArg (if isList v then concatStringsSep ":" v else v)}\n")
      config.environment.variables)
    + config.environment.shellInit;

    system.path = pkgs.buildEnv ({
      name = "system-path";
      paths = config.environment.systemPackages ++ config.environment.defaultPackages;
    } // optionalAttrs (systemd != null) {
      postBuild = ''
        mkdir -p $out/bin
        for c in systemctl ${toString power}; do
          rm -f $out/bin/$c $out/sbin/$c
        done
        ln -s ${systemd}/bin/systemctl $out/bin/systemctl
        for c in ${toString power}; do
          ln -s ${systemd}/bin/systemctl $out/bin/$c
        done
      '';
    } // optionalAttrs (config.environment.pathsToLink != [ ]) {
      pathsToLink = [ "/bin" "/sbin" "/lib" "/share" "/etc" ] ++ config.environment.pathsToLink;
    });
  };
}
