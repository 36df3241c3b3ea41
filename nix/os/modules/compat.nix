# NixOS option names that configurations written for NixOS 18.03 (and the hardware
# configuration nixos-generate-config writes) use, beside the ones Kiln implements: the old
# names of users and groups, `nix.maxJobs`, and hardware settings that are recorded but have no
# effect yet (the initrd's modules are `boot.initrd.*`, in stage-1.nix).
{ config, lib, ... }:
with lib;
let
  recorded = what: type: default: mkOption {
    inherit type default;
    description = "${what} Accepted for NixOS configurations; Kiln does not use it yet.";
  };
in
{
  imports = [
    (mkAliasOptionModule [ "users" "extraUsers" ] [ "users" "users" ])
    (mkAliasOptionModule [ "users" "extraGroups" ] [ "users" "groups" ])
    (mkAliasOptionModule [ "nix" "maxJobs" ] [ "nix" "settings" "max-jobs" ])
  ];

  options = {
    boot.kernelModules =
      recorded "Kernel modules loaded in stage 2." (types.listOf types.str) [ ];
    boot.extraModulePackages =
      recorded "Packages of out-of-tree kernel modules." (types.listOf types.package) [ ];
    boot.loader.grub.version = recorded "The GRUB version." types.int 2;
    boot.loader.efi.canTouchEfiVariables =
      recorded "Whether the installer may change EFI variables." types.bool false;
    boot.loader.efi.efiSysMountPoint =
      recorded "Where the EFI system partition is mounted." types.str "/boot";
    powerManagement.cpuFreqGovernor =
      recorded "The CPU frequency governor." (types.nullOr types.str) null;
  };
}
