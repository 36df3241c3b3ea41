# An /etc entry whose name leaves /etc: the error names the entry and the file defining it.
(import ./os.nix ./configs/etc-escape.nix).toplevel.drvPath
