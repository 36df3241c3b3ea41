# The same file imported twice is evaluated once: both imports give the same set, which
# prints as «repeated» the second time.
let a = import ./imports/lib.nix; b = import ./imports/lib.nix; in [ a b (a == b) ]
