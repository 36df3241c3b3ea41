# Two users with one uid, and a group reusing the gid of `users`: both are named.
(import ./os.nix ./configs/duplicate-uid.nix).toplevel.drvPath
