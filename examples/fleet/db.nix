# The database host: a small key-value store kept under /var/lib/kv, which is declared state.
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

  systemd.tmpfiles.rules = [ "d /var/lib/kv 0700 kv kv -" ];
  state.data = [ { path = "/var/lib/kv"; user = "kv"; group = "kv"; mode = "0700"; policy = "backup-daily"; } ];
  networking.firewall.allowedTCPPorts = [ 7000 ];
}
