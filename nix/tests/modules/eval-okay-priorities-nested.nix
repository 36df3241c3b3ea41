# Priorities inside attrsOf and submodules: mkForce on a whole set, on one element, on one
# submodule option; mkDefault definitions from the declaration's submodule.
{ lib ? import <kiln/lib> }:
let
  inherit (lib) mkOption types mkForce mkDefault;
  user = { options.uid = mkOption { type = types.int; }; options.shell = mkOption { type = types.str; default = "sh"; }; };
  eval = defs: (lib.evalModules {
    modules = [
      { options.users = mkOption { type = types.attrsOf (types.submodule user); default = { }; };
        options.env = mkOption { type = types.attrsOf types.str; default = { }; }; }
    ] ++ defs;
  }).config;
  strip = builtins.mapAttrs (n: v: removeAttrs v [ "_module" ]);
in {
  wholeSet = strip (eval [ { users.alice.uid = 1; } { users = mkForce { bob.uid = 2; }; } ]).users;
  oneElement = strip (eval [ { users.alice.uid = 1; } { users.alice = mkForce { uid = 3; }; } { users.carol.uid = 4; } ]).users;
  oneOption = strip (eval [ { users.alice.uid = 1; } { users.alice.uid = mkForce 5; users.alice.shell = mkDefault "zsh"; } ]).users;
  defaults = (eval [ { env.A = mkDefault "a"; env.B = "b"; } { env.A = "override"; } ]).env;
}
