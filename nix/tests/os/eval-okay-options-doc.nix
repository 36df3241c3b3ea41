# The option list for `kiln os options`: a few entries, with type, default and declaration.
let
  os = import ./os.nix { };
  pick = name: builtins.head (builtins.filter (o: o.name == name) os.optionsDoc);
  strip = o: o // {
    declarations = map (d:
      let m = builtins.match ".*/(nix/os/.*)" d; in if m == null then d else builtins.head m)
      o.declarations;
  };
in
{
  hostName = strip (pick "networking.hostName");
  uid = strip (pick "users.users.<name>.uid");
  stateData = strip (pick "state.data");
  count = builtins.length os.optionsDoc > 100;
  # Internal options are not listed.
  internal = builtins.any (o: o.name == "system.build.etc") os.optionsDoc;
  json = builtins.isString os.optionsJSON;
}
