# An option no module declares: the error names it and the file that sets it.
(import ./os.nix ./configs/missing-option.nix).toplevel.drvPath
