# The web server: a static site served by busybox's httpd, and a message of the day.
{ pkgs, ... }:
{
  imports = [ ./common.nix ];

  networking.hostName = "web";
  fleet.motd = { enable = true; text = "web: the fleet's front door. Be gentle."; };

  users.users.www = { isSystemUser = true; group = "www"; };
  users.groups.www = { };

  environment.etc."www/index.html".text = ''
    <!doctype html><title>web</title><p>Served by a Kiln system.</p>
  '';

  systemd.services.webserver = {
    description = "Static web server";
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    path = [ pkgs.busybox ];
    script = "exec httpd -f -p 80 -h /etc/www -u www:www";
    serviceConfig.Restart = "on-failure";
  };

  networking.firewall.allowedTCPPorts = [ 80 ];
  state.cache = [ { path = "/var/cache/www"; user = "www"; group = "www"; } ];
}
