# A NixOS 18.03 configuration and hardware configuration evaluate unchanged: the old option
# names reach the new ones, and the GRUB settings give a warning, not an error.
let
  os = import ./os.nix ./configs/nixos/configuration.nix;
  json = os.config.system.build.kilnSystemJSON;
in
{
  name = os.toplevel.name;
  guest = json.users.guest;
  fstab = os.config.environment.etc.fstab.text;
  kilnConf = os.config.environment.etc."kiln/kiln.conf".text;
  ports = json.firewall.allowedTCPPorts;
  inherit (os.config) warnings;
}
