{ pkgs, ... }: {
  boot.loader.grub.device = "/dev/sda";
  fileSystems."/" = { device = "/dev/sda1"; fsType = "ext4"; };
  networking.hostName = "bench";
  services.openssh.enable = true;
  services.nginx.enable = true;
  services.postgresql.enable = true;
  users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" ]; };
  environment.systemPackages = [ pkgs.git pkgs.htop ];
}
