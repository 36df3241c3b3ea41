# Names in the trace are quoted as Nix quotes attribute names.
let
  set = {
    "a b" = {
      "if" = { };
    };
  };
in
set."a b".${"if"}.${toString 1}
