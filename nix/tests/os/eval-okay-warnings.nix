# Warnings do not stop the evaluation: GRUB options are accepted, with a warning, and the
# toplevel still evaluates.
let
  os = import ./os.nix {
    boot.loader.grub = { enable = true; device = "/dev/sda"; };
    warnings = [ "a warning of the configuration's own" ];
  };
in
{
  inherit (os.config) warnings;
  name = os.toplevel.name;
}
