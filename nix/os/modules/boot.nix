# The kernel, its parameters and the boot loader. Boot entries are systemd-boot style, written by
# kiln-os from the toplevel's `boot.json` (bootspec v1); `boot.loader.grub.*` is accepted, so
# NixOS configurations evaluate, but Kiln installs no GRUB.
#
# Boot counting (`boot.loader.bootCounting.tries`, systemd's automatic boot assessment): a new
# generation's entry gets that many tries (`/etc/kernel/tries`, as kernel-install reads it); the
# loader counts each try in the entry's name and passes the name as `kiln.entry=`. In the
# booted system `kiln-bless-boot` marks the entry good once `multi-user.target` is reached, and
# `kiln-boot-assessment` notes why it was not (`/boot/loader/failed-N`: the failed units, or a
# timeout) and reboots, so the loader tries again or, out of tries, boots the previous good
# generation.
{ config, lib, pkgs, ... }:
with lib;
let
  cfg = config.boot;
  counting = cfg.loader.bootCounting;
  systemd = config.systemd.package;
  # The booted entry's name and generation, from the kernel command line; a script that
  # includes this stops (status 0) unless the entry is being counted.
  readEntry = ''
    entry=$(sed -n 's/.*kiln\.entry=\([^ ]*\).*/\1/p' /proc/cmdline)
    case "$entry" in
      kiln-*+*.conf) ;;
      *) exit 0 ;;
    esac
    gen=''${entry#kiln-}
    gen=''${gen%%+*}
    loader=/boot/loader
  '';
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

    boot.loader.bootCounting.tries = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      example = 3;
      description = ''
        How many times a new generation's boot entry is tried before it is taken for bad and
        the previous good generation boots (systemd-boot's boot counting). Null: entries are
        not counted.
      '';
    };

    boot.loader.bootCounting.timeout = mkOption {
      type = types.ints.positive;
      default = 300;
      description = ''
        Seconds a counted boot may take to reach `multi-user.target` before it is taken for
        failed and the system reboots.
      '';
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
    environment.etc = mkIf (counting.tries != null) {
      "kernel/tries".text = "${toString counting.tries}\n";
    };

    systemd.services = mkIf (counting.tries != null && systemd != null) {
      kiln-bless-boot = {
        description = "Mark the boot entry good (multi-user.target was reached)";
        wantedBy = [ "multi-user.target" ];
        requires = [ "multi-user.target" ];
        after = [ "multi-user.target" ];
        path = [ systemd ];
        serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
        script = readEntry + ''
          systemctl is-active --quiet multi-user.target
          mv "$loader/entries/$entry" "$loader/entries/kiln-$gen.conf"
          rm -f "$loader/failed-$gen"
          sync
          echo "kiln-bless-boot: $entry is good: kiln-$gen.conf"
        '';
      };
      kiln-boot-assessment = {
        description = "Reboot a counted boot that does not reach multi-user.target";
        wantedBy = [ "sysinit.target" ];
        unitConfig.DefaultDependencies = "no";
        path = [ systemd ];
        serviceConfig.Type = "simple";
        script = readEntry + ''
          reached() { systemctl is-active --quiet multi-user.target; }
          start=$(cut -d. -f1 /proc/uptime)
          while :; do
            reached && exit 0
            jobs=$(systemctl list-jobs --no-legend 2>/dev/null | grep -v 'No jobs' || true)
            if [ -z "$jobs" ] && ! reached; then
              failed=$(systemctl list-units --state=failed --no-legend --plain 2>/dev/null \
                | awk '{print $1}' | tr '\n' ' ')
              failed=''${failed% }
              reason="multi-user.target was not reached; failed units: ''${failed:-none}"
              break
            fi
            now=$(cut -d. -f1 /proc/uptime)
            if [ $((now - start)) -ge ${toString counting.timeout} ]; then
              reason="multi-user.target was not reached within ${toString counting.timeout} s"
              break
            fi
            sleep 1
          done
          echo "$reason" > "$loader/failed-$gen.tmp"
          mv "$loader/failed-$gen.tmp" "$loader/failed-$gen"
          sync
          echo "kiln-boot-assessment: $entry: $reason; rebooting" | tee /dev/console
          systemctl reboot
        '';
      };
    };

    warnings = optional (cfg.loader.grub.enable || cfg.loader.grub.device != null)
      "boot.loader.grub is set, but Kiln writes systemd-boot style entries and installs no GRUB";
  };
}
