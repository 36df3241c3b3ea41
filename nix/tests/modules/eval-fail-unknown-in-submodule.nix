{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    modules = [
      ./data/declares-users.nix
      {
        users.alice = { uid = 1; nmae = "Alice"; };
      }
    ];
  };
in r.config.users.alice.uid
