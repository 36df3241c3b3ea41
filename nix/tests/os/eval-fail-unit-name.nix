# A service whose name would not be a unit file name in /etc/systemd/system.
(import ./os.nix {
  systemd.services."../evil".script = "true";
  systemd.services.ok = { script = "true"; wantedBy = [ "multi user" ]; };
}).toplevel.drvPath
