# A small server: one user, one service, sshd, files in /etc, a tmpfs / with declared state.
{ pkgs, ... }:
{
  networking.hostName = "web";
  time.timeZone = "Europe/Amsterdam";
  users.mutableUsers = false;
  users.users.alice = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    hashedPassword = "$6$salt$hash";
    openssh.authorizedKeys.keys = [ "ssh-ed25519 AAAAC3 alice@laptop" ];
  };
  users.users.www = { isSystemUser = true; group = "www"; uid = 400; };
  users.groups.www.gid = 400;
  services.openssh = { enable = true; ports = [ 2222 ]; permitRootLogin = "no"; passwordAuthentication = false; };
  systemd.services.greeter = {
    description = "Greets";
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    requires = [ "network.target" ];
    environment = { GREETING = "hello \"world\""; EMPTY = ""; UNSET = null; };
    path = [ pkgs.hello ];
    script = "hello --greeting=\"$GREETING\"";
    serviceConfig = { Type = "oneshot"; RemainAfterExit = true; User = "www"; TimeoutSec = 30; };
  };
  systemd.tmpfiles.rules = [ "d /var/lib/greeter 0750 www www -" ];
  environment.etc."greeter/config".text = "loud = true\n";
  environment.etc."greeter/secret" = { text = "s3cret"; mode = "0600"; user = "www"; group = "www"; };
  fileSystems."/" = { fsType = "tmpfs"; options = [ "mode=0755" ]; };
  fileSystems."/persist" = { device = "/dev/vda2"; fsType = "ext4"; neededForBoot = true; };
  fileSystems."/boot" = { label = "BOOT"; fsType = "vfat"; };
  state.provisioning = [ { path = "/etc/machine-id"; kind = "file"; } ];
  state.data = [ { path = "/var/lib/greeter"; user = "www"; group = "www"; mode = "0750"; policy = "backup-daily"; } ];
  state.cache = [ "/var/cache/greeter" ];
  boot.kernelParams = [ "console=ttyS0" "quiet" ];
  nix.settings = { max-jobs = 2; sandbox = true; substituters = [ "https://a.example" "https://b.example" ]; };
  system.stateVersion = "18.03";
}
