builtins.toJSON [ "ok" "x${builtins.substring 0 1 "é"}y" ]
