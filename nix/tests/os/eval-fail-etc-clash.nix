# Two /etc entries with one path, and a file inside a directory entry.
(import ./os.nix ./configs/etc-clash.nix).toplevel.drvPath
