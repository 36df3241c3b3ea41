# A user in a group no configuration declares, and a group member that is no user.
(import ./os.nix ./configs/bad-group-member.nix).toplevel.drvPath
