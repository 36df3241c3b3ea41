# The kernel, its parameters and the boot loader. Boot entries are systemd-boot style, written by
# kiln-os from the toplevel's `boot.json` (bootspec v1); `boot.loader.grub.*` is accepted, so
# NixOS configurations evaluate, but Kiln installs no GRUB.
{ config, lib, pkgs, ... }:
with lib;
let
  cfg = config.boot;
  kernel = if cfg.kernelPackages == null then null else cfg.kernelPackages.kernel;
  initrd = config.system.build.initialRamdisk;
in
{
  options = {
    boot.kernelPackages = mkOption {
      type = types.nullOr types.attrs;
      default =
        if pkgs ? linuxPackages then pkgs.linuxPackages
        else if pkgs ? linux then { kernel = pkgs.linux; }
        else null;
      defaultText = "pkgs.linuxPackages, else { kernel = pkgs.linux; }, else null";
      description = ''
        The kernel package set; its `kernel` attribute is the kernel (the toplevel's `kernel`
        is `''${kernel}/''${system.boot.loader.kernelFile}`). Null: no kernel (a system that is
        only activated into a root, never booted).
      '';
    };

    boot.kernelParams = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "console=ttyS0" ];
      description = "The kernel command line (the toplevel's `kernel-params`).";
    };

    boot.loader.timeout = mkOption {
      type = types.nullOr types.int;
      default = 5;
      description = "Seconds the boot menu waits; null waits for a choice.";
    };

    boot.loader.systemd-boot.enable = mkOption {
      type = types.bool;
      default = false;
      description = "Whether boot entries are written in systemd-boot's format (Kiln always does).";
    };

    boot.loader.grub = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "Accepted for NixOS configurations; Kiln installs no GRUB.";
      };
      device = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/dev/sda";
        description = "Accepted for NixOS configurations; Kiln installs no GRUB.";
      };
      devices = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Accepted for NixOS configurations; Kiln installs no GRUB.";
      };
    };

    system.boot.loader.kernelFile = mkOption {
      type = types.str;
      default = "bzImage";
      description = "The kernel image's file name inside the kernel package.";
    };

    system.boot.loader.initrdFile = mkOption {
      type = types.str;
      default = "initrd";
      description = "The initrd's file name inside `system.build.initialRamdisk`.";
    };

    system.build.initialRamdisk = mkOption {
      type = types.nullOr types.package;
      default = null;
      description = "The package holding the initrd (the VM issue builds one).";
    };

    system.build.kernelPath = mkOption {
      type = types.nullOr types.str;
      internal = true;
      readOnly = true;
      description = "The kernel image's store path, or null.";
    };

    system.build.initrdPath = mkOption {
      type = types.nullOr types.str;
      internal = true;
      readOnly = true;
      description = "The initrd's store path, or null.";
    };
  };

  config = {
    system.build.kernelPath =
      if kernel == null then null else "${kernel}/${config.system.boot.loader.kernelFile}";
    system.build.initrdPath =
      if initrd == null then null else "${initrd}/${config.system.boot.loader.initrdFile}";
    warnings = optional (cfg.loader.grub.enable || cfg.loader.grub.device != null)
      "boot.loader.grub is set, but Kiln writes systemd-boot style entries and installs no GRUB";
  };
}
