"lib of nixpkgs"
