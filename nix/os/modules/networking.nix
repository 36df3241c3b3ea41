# `networking.hostName` (/etc/hostname, /etc/hosts) and `networking.firewall` (its open ports go
# into kiln-system.json's `firewall`; the VM issue makes the rules live).
{ config, lib, ... }:
with lib;
let
  cfg = config.networking;
in
{
  options.networking = {
    hostName = mkOption {
      type = types.strMatching "[[:alnum:]]([[:alnum:]-]{0,61}[[:alnum:]])?";
      default = "nixos";
      description = ''
        The host name: letters, digits and inner `-`, at most 63 characters. It names the
        toplevel (`nixos-system-<hostName>-<version>`) and is written to /etc/hostname.
      '';
    };

    extraHosts = mkOption {
      type = types.lines;
      default = "";
      example = "192.168.0.1 lanlocalhost";
      description = "Lines appended to /etc/hosts.";
    };

    firewall = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Whether incoming connections are refused except on the allowed ports.";
      };
      allowedTCPPorts = mkOption {
        type = types.listOf types.ints.u16;
        default = [ ];
        example = [ 22 80 ];
        description = "TCP ports open to incoming connections.";
      };
      allowedUDPPorts = mkOption {
        type = types.listOf types.ints.u16;
        default = [ ];
        example = [ 53 ];
        description = "UDP ports open to incoming connections.";
      };
    };
  };

  config = {
    environment.etc.hostname.text = cfg.hostName + "\n";
    environment.etc.hosts.text = ''
      127.0.0.1 localhost
      ::1 localhost
      127.0.0.2 ${cfg.hostName}
    '' + cfg.extraHosts;
  };
}
