# attrsOf submodule: the `name` argument, defaults, options declared in several modules merge.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types;
  userModule = { name, config, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; };
      home = mkOption { type = types.str; default = "/home/${config.name}"; };
      groups = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };
  r = lib.evalModules {
    modules = [
      { options.users = mkOption { type = types.attrsOf (types.submodule userModule); default = { }; }; }
      # A second declaration adds an option to the same submodule.
      { options.users = mkOption { type = types.attrsOf (types.submodule { options.shell = mkOption { type = types.str; default = "sh"; }; }); }; }
      { users.alice = { groups = [ "wheel" ]; }; }
      { users.alice.groups = [ "audio" ]; users.bob.home = "/srv/bob"; }
      { users.carol = { config, ... }: { shell = "zsh"; groups = [ config.name ]; }; }
      { options.single = mkOption { type = types.submodule { options.x = mkOption { type = types.int; default = 1; }; options.y = mkOption { type = types.int; }; }; }; }
      { single.y = 2; }
      { single = { x = 3; }; }
    ];
  };
  # nixpkgs 18.03 leaves `_module` in submodule values; newer ones do not.
  clean = v: removeAttrs v [ "_module" ];
in { users = builtins.mapAttrs (n: clean) r.config.users; single = clean r.config.single; }
