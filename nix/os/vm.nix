# The module `kiln os vm` adds to a configuration: the machine qemu gives it. Two virtio disks
# made by kiln-os, labelled `nix` (the system's closure, the generations and their activated
# roots) and `persist` (`state.root`); `/` a tmpfs unless the configuration says otherwise; the
# console on the first serial port; and on a virtio console (`/dev/hvc0`) the test backdoor, a shell
# that `kiln_os::vm::Machine` talks to (it starts once `multi-user.target` is reached and says
# `kiln-backdoor: ready`).
{ config, lib, pkgs, ... }:
with lib;
{
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
