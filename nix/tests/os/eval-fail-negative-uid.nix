# A uid outside 0 … 2^32 - 2 is a type error naming the file.
(import ./os.nix ./configs/negative-uid.nix).toplevel.drvPath
