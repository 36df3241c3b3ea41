# A custom option: a message of the day, written to /etc/motd when enabled.
{ config, lib, ... }:
with lib;
let
  cfg = config.fleet.motd;
in
{
  options.fleet.motd = {
    enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether /etc/motd greets the users who log in.";
    };
    text = mkOption {
      type = types.lines;
      default = "Welcome to ${config.networking.hostName}.";
      defaultText = "Welcome to \${config.networking.hostName}.";
      description = "The message.";
    };
  };

  config = mkIf cfg.enable {
    environment.etc.motd.text = cfg.text + "\n";
  };
}
