# The unit files rendered from systemd.services and services.openssh, and the unit names.
let os = import ./os.nix ./configs/web.nix; in
{
  units = builtins.attrNames os.config.systemd.units;
  greeter = os.config.systemd.units."greeter.service".text;
  sshd = os.config.systemd.units."sshd.service".text;
  target = os.config.systemd.units."multi-user.target".text;
  # The unit tree's builder: the files and their wantedBy links.
  tree = os.config.environment.etc."systemd/system".source.buildCommand;
}
