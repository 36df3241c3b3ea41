# The unit files rendered from systemd.services and services.openssh, and the unit names.
let
  os = import ./os.nix {
    imports = [ ./configs/web.nix ];
    # What a switch does with a changed unit, for kiln-os's plan (NixOS's X- keys).
    systemd.services.kept = { script = "sleep infinity"; restartIfChanged = false; stopIfChanged = false; };
    systemd.services.backup = { script = "true"; startAt = [ "*-*-* 03:00:00" "Sun 12:00" ]; };
    systemd.services.reloaded = { script = "true"; reloadIfChanged = true; restartTriggers = [ "a" "b" ]; };
  };
in
{
  units = builtins.attrNames os.config.systemd.units;
  greeter = os.config.systemd.units."greeter.service".text;
  sshd = os.config.systemd.units."sshd.service".text;
  target = os.config.systemd.units."multi-user.target".text;
  backupTimer = os.config.systemd.units."backup.timer".text;
  kept = os.config.systemd.units."kept.service".text;
  reloaded = os.config.systemd.units."reloaded.service".text;
  # The unit tree's builder: the files and their wantedBy links.
  tree = os.config.environment.etc."systemd/system".source.buildCommand;
}
