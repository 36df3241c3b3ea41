let lib = import ./imports/lib.nix; in
[ lib.value lib.sub (import ./imports/fun.nix { x = 21; }) (import ./imports/dir) (import ./imports/sub/inner-up.nix).value ]
