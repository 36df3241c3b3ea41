# /etc entries and units whose names are not store path names still get files.
let os = import ./os.nix {
  environment.etc."my file@home".text = "x";
  systemd.services."getty@".script = "true";
}; in
{
  etc = os.config.environment.etc."my file@home".source.name;
  unit = builtins.match ".*(/nix/store/[a-z0-9]{32}-getty-.service).*"
    os.config.environment.etc."systemd/system".source.buildCommand;
}
