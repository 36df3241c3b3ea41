# The kernel: from pkgs.linuxPackages.kernel, else pkgs.linux (Kiln's package set), else none.
let
  stub = import ./stub-pkgs.nix { };
  withPkgs = pkgs: (import <kiln/os> {
    configuration = { boot.kernelParams = [ "console=ttyS0" ]; };
    inherit pkgs;
    system = "x86_64-linux";
  }).config.system.build.kilnSystemJSON;
  kernelOf = pkgs: builtins.match "/nix/store/[a-z0-9]{32}-(.*)" (withPkgs pkgs).kernel;
in
{
  linuxPackages = kernelOf stub;
  linux = kernelOf (removeAttrs stub [ "linuxPackages" ] // {
    linux = derivation { name = "linux-image-6.1"; system = "x86_64-linux"; builder = "/bin/sh"; };
  });
  none = (withPkgs (removeAttrs stub [ "linuxPackages" ])).kernel;
  # Or none on purpose, whatever the package set has.
  off = ((import ./os.nix { boot.kernelPackages = null; }).config.system.build.kilnSystemJSON).kernel;
}
