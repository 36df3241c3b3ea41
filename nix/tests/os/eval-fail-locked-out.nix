# An immutable user database with no administrator password or key.
(import ./os.nix {
  users.mutableUsers = false;
  users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" ]; };
}).toplevel.drvPath
