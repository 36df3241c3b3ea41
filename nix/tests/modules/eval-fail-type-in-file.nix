{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [ ./data/declares-users.nix ./data/bad-user.nix ];
  };
in r.config.users.alice.uid
