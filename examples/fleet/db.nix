# The database host: a small key-value store kept under /var/lib/kv, which is declared state,
# and its nightly backup (a timer).
{ pkgs, ... }:
{
  imports = [ ./common.nix ];

  networking.hostName = "db";

  users.users.kv = { isSystemUser = true; group = "kv"; home = "/var/lib/kv"; };
  users.groups.kv = { };

  systemd.services.kv = {
    description = "Key-value store";
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    environment.KV_DIR = "/var/lib/kv";
    script = ''
      mkdir -p "$KV_DIR"
      exec nc -lk -p 7000 -e sh -c 'read k v; echo "$v" > "$KV_DIR/$k"; echo ok'
    '';
    serviceConfig = { User = "kv"; Group = "kv"; Restart = "always"; };
  };

  # A nightly copy of the store, by a timer.
  systemd.services.kv-backup = {
    description = "Back up the key-value store";
    startAt = "*-*-* 03:00:00";
    path = [ pkgs.busybox ];
    script = ''
      mkdir -p /var/backup
      tar -czf /var/backup/kv-$(date +%F).tar.gz -C /var/lib kv
    '';
    serviceConfig.Type = "oneshot";
  };

  systemd.tmpfiles.rules = [ "d /var/lib/kv 0700 kv kv -" ];
  state.data = [
    { path = "/var/lib/kv"; user = "kv"; group = "kv"; mode = "0700"; policy = "backup-daily"; }
    { path = "/var/backup"; mode = "0700"; }
  ];
  networking.firewall.allowedTCPPorts = [ 7000 ];
}
