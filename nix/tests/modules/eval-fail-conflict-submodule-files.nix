{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [ ./data/declares-users.nix ./data/user-alice-1.nix ./data/user-alice-2.nix ];
  };
in r.config.users.alice.uid
