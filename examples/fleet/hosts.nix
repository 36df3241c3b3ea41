# A fleet of two hosts sharing ./common.nix. Build one with
#   kiln os build --file examples/fleet/hosts.nix --host web
{
  web = ./web.nix;
  db = ./db.nix;
}
