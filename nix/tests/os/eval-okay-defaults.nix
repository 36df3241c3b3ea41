# An empty configuration: NixOS's default users and groups with NixOS's ids, the default host
# name, no kernel, and the toplevel's name.
let os = import ./os.nix { }; in
{
  json = os.config.system.build.kilnSystemJSON;
  name = os.toplevel.name;
}
