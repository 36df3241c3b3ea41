# Stage 1's modules: the configuration's, then ext4's for an ext4 file system the initrd mounts;
# no initrd without a kernel. Stage 2 execs systemd when the package set has one.
let
  cfg = c: (import ./os.nix c).config;
  vm = cfg {
    boot.initrd.availableKernelModules = [ "virtio_pci" "virtio_blk" ];
    fileSystems."/" = { fsType = "tmpfs"; };
    fileSystems."/nix" = { device = "/dev/disk/by-label/nix"; fsType = "ext4"; neededForBoot = true; };
    fileSystems."/data" = { device = "/dev/vdc"; fsType = "ext4"; };
  };
  plain = cfg { };
  noKernel = cfg { boot.kernelPackages = null; };
in
{
  modules = vm.boot.initrd.kernelModules;
  plainModules = plain.boot.initrd.kernelModules;
  initrd = builtins.match "/nix/store/[a-z0-9]{32}-(.*)" vm.system.build.initrdPath;
  noKernel = noKernel.system.build.initrdPath;
  systemd = vm.systemd.package;
  params = vm.boot.kernelParams;
  audit = map (p: p.name) vm.environment.systemPackages;
}
