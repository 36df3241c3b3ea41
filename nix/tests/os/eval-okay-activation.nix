# system.activationScripts run in dependency order; strings are snippets without dependencies.
let
  os = import ./os.nix {
    system.activationScripts = {
      users = "echo users";
      etc = { deps = [ "users" ]; text = "echo etc"; };
      apps = { deps = [ "var" "etc" ]; text = "echo apps"; };
      var = "echo var";
    };
  };
in
{
  order = os.config.system.build.activationOrder;
  script = os.config.system.build.activate.text;
}
