# The toplevel: its name, its builder (NixOS's layout), boot.json, and a specialisation.
let
  lib = import <kiln/lib>;
  os = import ./os.nix {
    imports = [ ./configs/web.nix { specialisation.debug.configuration = { lib, ... }: { networking.hostName = lib.mkForce "web-debug"; }; } ];
    specialisation.debug.configuration = { boot.kernelParams = [ "debug" ]; };
  };
  top = os.toplevel;
in
{
  inherit (top) name bootJson kernelParams nixosVersion systemName;
  builder = top.buildCommand;
  # The variant has the parent's kernel parameters and its own.
  debug = builtins.sort builtins.lessThan (lib.splitString " "
    os.config.system.build.specialisations.debug.kernelParams);
  # Evaluation is deterministic: the same configuration gives the same derivation.
  # Both definitions of the variant's module count.
  debugName = os.config.system.build.specialisations.debug.name;
  same = top.drvPath == (import ./os.nix {
    imports = [ ./configs/web.nix { specialisation.debug.configuration = { lib, ... }: { networking.hostName = lib.mkForce "web-debug"; }; } ];
    specialisation.debug.configuration = { boot.kernelParams = [ "debug" ]; };
  }).toplevel.drvPath;
}
