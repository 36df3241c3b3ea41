# A value of the wrong type: the error names the option, the file and the type.
(import ./os.nix ./configs/wrong-type.nix).toplevel.drvPath
