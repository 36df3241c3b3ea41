# A configuration as NixOS 18.03's nixos-generate-config writes it (with its comments removed),
# using the old names users.extraUsers and nix.maxJobs.
{ config, pkgs, ... }:
{
  imports = [ ./hardware-configuration.nix ];

  boot.loader.grub.enable = true;
  boot.loader.grub.version = 2;
  boot.loader.grub.device = "/dev/sda";

  networking.hostName = "nixos";
  time.timeZone = "Europe/Amsterdam";
  environment.systemPackages = with pkgs; [ hello ];
  services.openssh.enable = true;
  networking.firewall.allowedTCPPorts = [ 80 ];

  users.extraUsers.guest = {
    isNormalUser = true;
    uid = 1000;
  };

  system.stateVersion = "18.03";
}
