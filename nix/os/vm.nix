# The module `kiln os vm` adds to a configuration: the machine qemu gives it. Two virtio disks
# made by kiln-os, labelled `nix` (the system's closure, the generations and their activated
# roots) and `persist` (`state.root`); `/` a tmpfs unless the configuration says otherwise; the
# console on the first serial port; and on a virtio console (`/dev/hvc0`) the test backdoor, a shell
# that `kiln_os::vm::Machine` talks to (it starts once `multi-user.target` is reached and says
# `kiln-backdoor: ready`). The runner is the boot loader: its entries and `loader.conf` are on the
# `nix` disk, the guest's `/boot/loader`; boot counting is on (`boot.loader.bootCounting`), and
# `kiln-os-boot` in the guest changes the default entry (or the next boot's).
{ config, lib, pkgs, ... }:
with lib;
let
  bootTool = pkgs.writeShellScript "kiln-os-boot" ''
    # kiln-os-boot: list the boot entries (`*` the default); `kiln-os-boot N`: make generation
    # N the default entry; `kiln-os-boot --once N`: boot generation N at the next boot only.
    export PATH=${pkgs.busybox}/bin
    loader=/boot/loader
    has_entry() {
      case "$1" in
        ""|*[!0-9]*) echo "kiln-os-boot: not a generation number: '$1'" >&2; exit 2 ;;
      esac
      for f in "$loader/entries/kiln-$1.conf" "$loader/entries/kiln-$1+"*.conf; do
        [ -e "$f" ] && return 0
      done
      echo "kiln-os-boot: generation $1 has no boot entry" >&2
      exit 1
    }
    put() {
      printf "$2" > "$loader/$1.tmp" && mv "$loader/$1.tmp" "$loader/$1" && sync
    }
    case "$1" in
      "")
        default=$(sed -n 's/^default *//p' "$loader/loader.conf")
        for f in "$loader"/entries/kiln-*.conf; do
          [ -e "$f" ] || continue
          n=''${f##*/}
          id=$(echo "$n" | sed 's/+[0-9-]*\.conf$/.conf/')
          if [ "$id" = "$default" ]; then echo "* $n"; else echo "  $n"; fi
        done
        ;;
      --once)
        has_entry "$2"
        put oneshot "kiln-$2.conf\n"
        echo "generation $2 boots next, once"
        ;;
      *)
        has_entry "$1"
        put loader.conf "timeout 5\ndefault kiln-$1.conf\n"
        echo "generation $1 is the default boot entry"
        ;;
    esac
  '';
  bootBin = pkgs.runCommand "kiln-os-boot" { } ''
    mkdir -p $out/bin
    ln -s ${bootTool} $out/bin/kiln-os-boot
  '';
in
{
  environment.systemPackages = [ bootBin ];
  boot.loader.bootCounting.tries = mkDefault 3;

  fileSystems."/" = mkDefault { fsType = "tmpfs"; options = [ "mode=0755" ]; };
  fileSystems."/nix" = {
    device = "/dev/disk/by-label/nix";
    fsType = "ext4";
    neededForBoot = true;
  };
  fileSystems.${config.state.root} = mkDefault {
    device = "/dev/disk/by-label/persist";
    fsType = "ext4";
    neededForBoot = true;
  };

  boot.initrd.availableKernelModules = [ "virtio_pci" "virtio_blk" ];
  # The backdoor's port (`/dev/hvc0`): a 16550 serial port under TCG holds input back in its
  # FIFO, so commands arrived late; virtio's console has no FIFO.
  boot.initrd.kernelModules = [ "virtio_console" ];
  boot.kernelParams = [ "console=ttyS0" "panic=-1" ];

  systemd.services.kiln-backdoor = {
    description = "The test backdoor of a Kiln VM (a shell on a virtio console)";
    wantedBy = [ "multi-user.target" ];
    # Ready means multi-user.target was reached: a boot that fails it has no backdoor.
    requires = [ "multi-user.target" ];
    after = [ "multi-user.target" ];
    path = [ config.system.path ] ++ optional (config.systemd.package != null) config.systemd.package;
    # One command line at a time, read by `read` (byte by byte, so nothing waits in a buffer);
    # no prompt, no line editing, no echo.
    script = ''
      exec < /dev/hvc0 > /dev/hvc0 2>&1
      # A unit's script runs under `set -e`: a command that fails must not end the backdoor.
      set +e
      stty raw -echo
      # The output is a terminal: no pager, no colours.
      export HOME=/root SYSTEMD_PAGER= SYSTEMD_COLORS=0 PAGER=cat
      cd /
      echo "kiln-backdoor: ready"
      while IFS= read -r line; do
        eval "$line"
      done
    '';
    serviceConfig = { Type = "simple"; Restart = "always"; };
  };
}
