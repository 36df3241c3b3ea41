# The configuration bench/run os builds and switches with the stand-in <kiln/os>.
{
  hostName = "web";
  hello = "1.0";
  etc = { hostname = "web\n"; motd = "hello\n"; "ssh/sshd_config" = "Port 22\n"; };
  units = { "sshd.service" = "[Service]\nExecStart=/bin/sshd\n"; "cron.service" = "[Service]\nExecStart=/bin/cron\n"; };
}
