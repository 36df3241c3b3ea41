# A NixOS 18.03 system (every module of nixpkgs' nixos/modules/module-list.nix) evaluated
# with the given `lib`: compare-with-nixpkgs instantiates `toplevel` with nixpkgs' lib and
# with Kiln's and wants the same .drv. Not a harness test (it needs a nixpkgs checkout).
{ lib, nixpkgs ? /work/nixpkgs, attr ? "drv", manual ? true }:
let
  baseModules = import (nixpkgs + "/nixos/modules/module-list.nix");
  configuration = { ... }: {
    fileSystems."/".device = "/dev/sda1";
    boot.loader.grub.device = "/dev/sda";
    services.openssh.enable = true;
    users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" ]; };
    environment.etc."foo.conf".text = "bar";
    # The manual documents every option (types, defaults, declarations) into the system.
    services.nixosManual.enable = manual;
  };
  pkgsModule = rec {
    _file = "eval.nix";
    key = _file;
    config.nixpkgs.system = lib.mkDefault "x86_64-linux";
  };
  r = lib.evalModules {
    modules = [ configuration ] ++ baseModules ++ [ pkgsModule ];
    args = { inherit baseModules; extraModules = [ ]; modules = [ configuration ]; };
    specialArgs = { modulesPath = nixpkgs + "/nixos/modules"; };
  };
in {
  drv = r.config.system.build.toplevel.drvPath;
  toplevel = r.config.system.build.toplevel;
  etc = builtins.attrNames r.config.environment.etc;
  users = builtins.mapAttrs (n: u: { inherit (u) uid home group isNormalUser extraGroups description createHome; }) r.config.users.users;
  units = builtins.attrNames r.config.systemd.services;
}.${attr}
