{ config, lib, pkgs, ... }:
{
  imports = [ ];

  boot.initrd.availableKernelModules = [ "ata_piix" "ohci_pci" "sd_mod" "sr_mod" ];
  boot.kernelModules = [ ];
  boot.extraModulePackages = [ ];

  fileSystems."/" =
    { device = "/dev/disk/by-uuid/0b6e4b4c-7b4e-4b8a-9f5c-2d8e7f1a3c11";
      fsType = "ext4";
    };

  swapDevices = [ { device = "/dev/disk/by-uuid/5d1c2a7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f"; } ];

  nix.maxJobs = lib.mkDefault 2;
}
