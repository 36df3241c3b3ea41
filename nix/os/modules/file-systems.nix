# `fileSystems`: the mounts of the system, rendered as /etc/fstab.
{ config, lib, ... }:
with lib;
let
  # File systems with no device of their own: `none` stands in the fstab's first field.
  virtual = [ "tmpfs" "ramfs" "proc" "sysfs" "devtmpfs" "devpts" "cgroup2" "overlay" ];

  fsModule = { name, config, ... }: {
    options = {
      mountPoint = mkOption {
        type = types.str;
        default = name;
        defaultText = "the attribute name";
        description = "Where the file system is mounted.";
      };
      device = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/dev/sda1";
        description = "The device (or `none` for a virtual file system such as tmpfs).";
      };
      label = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "The file system's label (`/dev/disk/by-label/…`), instead of `device`.";
      };
      fsType = mkOption {
        type = types.str;
        default = "auto";
        example = "ext4";
        description = "The file system type.";
      };
      options = mkOption {
        type = types.listOf types.str;
        default = [ "defaults" ];
        example = [ "noatime" ];
        description = "The mount options.";
      };
      neededForBoot = mkOption {
        type = types.bool;
        default = false;
        description = "Whether the initrd mounts it (before stage 2).";
      };
      noCheck = mkOption {
        type = types.bool;
        default = false;
        description = "Whether fsck is skipped.";
      };
    };
  };

  fileSystems = attrValues config.fileSystems;

  deviceOf = fs:
    if fs.device != null then fs.device
    else if fs.label != null then "/dev/disk/by-label/${fs.label}"
    else "none";

  passOf = fs:
    if fs.noCheck || elem fs.fsType virtual then "0"
    else if fs.mountPoint == "/" then "1"
    else "2";

  # fstab escapes blanks in its fields as octal.
  escape = replaceStrings [ " " "\t" ] [ "\\040" "\\011" ];
in
{
  options.fileSystems = mkOption {
    type = types.attrsOf (types.submodule fsModule);
    default = { };
    example = literalExample ''
      { "/" = { device = "/dev/sda1"; fsType = "ext4"; };
        "/tmp" = { fsType = "tmpfs"; options = [ "mode=1777" ]; }; }
    '';
    description = "The file systems, by mount point.";
  };

  options.swapDevices = mkOption {
    type = types.listOf (types.submodule {
      options = {
        device = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/dev/sda3";
          description = "The swap device or file.";
        };
        label = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "The swap space's label, instead of `device`.";
        };
      };
    });
    default = [ ];
    example = [ { device = "/dev/sda3"; } ];
    description = "Swap spaces, added to /etc/fstab.";
  };

  config = {
    assertions = map (s: {
      assertion = s.device != null || s.label != null;
      message = "swapDevices: an entry has neither `device` nor `label`";
    }) config.swapDevices ++ concatMap (fs: [
      {
        assertion = fs.device != null || fs.label != null || elem fs.fsType virtual;
        message = "fileSystems.\"${fs.mountPoint}\": neither `device` nor `label` is set";
      }
      {
        assertion = hasPrefix "/" fs.mountPoint;
        message = "fileSystems.\"${fs.mountPoint}\": the mount point is not an absolute path";
      }
    ]) fileSystems;

    environment.etc.fstab.text = ''
      # This file is generated from the `fileSystems` option.
    '' + concatMapStrings (fs:
      "${escape (deviceOf fs)} ${escape fs.mountPoint} ${fs.fsType} "
      + "${concatStringsSep "," fs.options} 0 ${passOf fs}\n")
      (sort (a: b: a.mountPoint < b.mountPoint) fileSystems)
    + concatMapStrings (s:
      "${escape (if s.device != null then s.device else "/dev/disk/by-label/${s.label}")} "
      + "none swap defaults 0 0\n") config.swapDevices;
  };
}
