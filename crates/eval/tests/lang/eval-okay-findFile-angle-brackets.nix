let __nixPath = [ { prefix = "np"; path = toString ./findfile-root/nixpkgs; } { prefix = ""; path = toString ./findfile-root; } ]; in [ <np/lib> (import <np/lib>) (import <other/foo.nix>) ]
