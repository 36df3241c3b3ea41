# What every host of the fleet has: the admin user, sshd, the time zone, Kiln's settings, and a
# root file system that is a tmpfs: everything worth keeping is declared in `state.*` and lives
# under /persist.
{ pkgs, ... }:
{
  imports = [ ./modules/motd.nix ];

  time.timeZone = "Europe/Amsterdam";

  users.mutableUsers = false;
  users.users.alice = {
    isNormalUser = true;
    description = "Alice, the admin";
    extraGroups = [ "wheel" ];
    openssh.authorizedKeys.keys = [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetExampleKeyNotARealOne alice@laptop"
    ];
  };

  services.openssh = {
    enable = true;
    permitRootLogin = "no";
    passwordAuthentication = false;
  };

  nix.settings = {
    max-jobs = 2;
    sandbox = true;
  };

  environment.etc."fleet/owner".text = "ops@example.org\n";

  fileSystems."/" = { fsType = "tmpfs"; options = [ "mode=0755" "size=512M" ]; };
  fileSystems."/persist" = { device = "/dev/disk/by-label/persist"; fsType = "ext4"; neededForBoot = true; };

  state.provisioning = [
    { path = "/etc/machine-id"; kind = "file"; mode = "0444"; }
    { path = "/etc/ssh/ssh_host_ed25519_key"; kind = "file"; mode = "0600"; }
  ];
  state.telemetry = [ { path = "/var/log"; policy = "keep-30d"; } ];

  boot.kernelParams = [ "console=ttyS0" ];
  system.stateVersion = "18.03";
}
