# Evaluates a configuration with the stub package set, for the tests in this directory.
configuration: import <kiln/os> {
  inherit configuration;
  pkgs = import ./stub-pkgs.nix { };
  system = "x86_64-linux";
}
