# `services.openssh`: the `sshd` service, /etc/ssh/sshd_config, the `sshd` privilege separation
# user, the users' authorized keys in /etc/ssh/authorized_keys.d, and the ports in the firewall.
{ config, lib, pkgs, ... }:
with lib;
let
  cfg = config.services.openssh;
  openssh = pkgs.openssh or (throw
    "services.openssh.enable is set, but the package set has no `openssh`");
  usersWithKeys = filterAttrs (_: u: u.openssh.authorizedKeys.keys != [ ]) config.users.users;
in
{
  options.services.openssh = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether the OpenSSH daemon runs.";
    };
    ports = mkOption {
      type = types.listOf types.ints.u16;
      default = [ 22 ];
      description = "The ports sshd listens on.";
    };
    openFirewall = mkOption {
      type = types.bool;
      default = true;
      description = "Whether `ports` are opened in the firewall.";
    };
    permitRootLogin = mkOption {
      type = types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ];
      default = "prohibit-password";
      description = "sshd_config's `PermitRootLogin`.";
    };
    passwordAuthentication = mkOption {
      type = types.bool;
      default = true;
      description = "sshd_config's `PasswordAuthentication`.";
    };
    extraConfig = mkOption {
      type = types.lines;
      default = "";
      description = "Lines appended to sshd_config.";
    };
  };

  config = mkIf cfg.enable {
    users.users.sshd = {
      isSystemUser = true;
      group = "sshd";
      description = "SSH privilege separation user";
    };
    users.groups.sshd = { };

    environment.etc = {
      "ssh/sshd_config".text = concatMapStrings (p: "Port ${toString p}\n") cfg.ports + ''
        HostKey /etc/ssh/ssh_host_ed25519_key
        PermitRootLogin ${cfg.permitRootLogin}
        PasswordAuthentication ${if cfg.passwordAuthentication then "yes" else "no"}
        AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/authorized_keys.d/%u
        PidFile /run/sshd.pid
        Subsystem sftp ${openssh}/libexec/sftp-server
      '' + cfg.extraConfig;
    } // mapAttrs' (name: u: nameValuePair "ssh/authorized_keys.d/${u.name}" {
      mode = "0444";
      text = concatMapStrings (k: k + "\n") u.openssh.authorizedKeys.keys;
    }) usersWithKeys;

    systemd.services.sshd = {
      description = "SSH Daemon";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      path = [ openssh ];
      preStart = ''
        mkdir -m 0755 -p /etc/ssh /var/empty
        if ! [ -f /etc/ssh/ssh_host_ed25519_key ]; then
          ssh-keygen -t ed25519 -f /etc/ssh/ssh_host_ed25519_key -N ""
        fi
      '';
      serviceConfig = {
        ExecStart = "${openssh}/sbin/sshd -D -f /etc/ssh/sshd_config";
        KillMode = "process";
        Restart = "always";
        Type = "simple";
      };
    };

    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall cfg.ports;
  };
}
