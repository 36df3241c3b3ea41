# An absolute /etc target: the error names the entry, its target and the file defining it.
(import ./os.nix ./configs/etc-absolute.nix).toplevel.drvPath
