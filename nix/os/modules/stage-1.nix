# Stage 1: the initrd. Built by Kiln from the package set: busybox (static), the kernel modules
# `boot.initrd.kernelModules` names plus every module they depend on (read from each module's
# `depends=` field, the data `modules.dep` is made from), loaded in dependency order, and a small
# `/init` that mounts `/` (a tmpfs, or the device `fileSystems."/"` names) and every
# `neededForBoot` file system under it, then execs the generation's `init` (the `init=` of the
# kernel command line) as PID 1 in the new root.
{ config, lib, pkgs, ... }:
with lib;
let
  cfg = config.boot.initrd;
  kernel = if config.boot.kernelPackages == null then null else config.boot.kernelPackages.kernel;

  fileSystems = attrValues config.fileSystems;
  root = config.fileSystems."/" or null;
  # Mounted by stage 1 below `/`, parents before children.
  early = sort (a: b: a.mountPoint < b.mountPoint)
    (filter (fs: fs.neededForBoot && fs.mountPoint != "/") fileSystems);

  # `/dev/disk/by-label/L` and `label = L` are found by label (no udev here: busybox `findfs`).
  source = fs:
    if fs.label != null then "LABEL=${fs.label}"
    else if fs.device != null && hasPrefix "/dev/disk/by-label/" fs.device
    then "LABEL=${removePrefix "/dev/disk/by-label/" fs.device}"
    else if fs.device != null then fs.device
    else "none";

  mountLine = fs: "mount_fs ${escapeShellArg (source fs)} ${escapeShellArg fs.mountPoint} "
    + "${escapeShellArg fs.fsType} ${escapeShellArg (concatStringsSep "," fs.options)}\n";

  rootLine =
    if root == null then "mount_fs none / tmpfs mode=0755\n" else mountLine root;

  init = pkgs.writeText "stage-1-init" ''
    #!/bin/sh
    # Stage 1 of a Kiln system (the initrd's /init).
    export PATH=/bin
    mount -t devtmpfs devtmpfs /dev
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    echo "kiln stage 1: loading kernel modules"
    while read -r m; do
      insmod "/lib/modules/$m.ko" || echo "kiln stage 1: cannot load $m"
    done < /etc/kiln-modules

    fail() {
      echo "kiln stage 1: $*; starting a shell"
      exec sh
    }

    # mount_fs SOURCE MOUNTPOINT TYPE OPTIONS: under /mnt-root; LABEL=… waits for the device.
    mount_fs() {
      src=$1 target=/mnt-root$2
      [ "$2" = / ] && target=/mnt-root
      case "$1" in
        LABEL=*)
          i=0
          while ! src=$(findfs "$1" 2>/dev/null); do
            i=$((i + 1))
            [ $i -gt ${toString (cfg.deviceTimeout * 10)} ] && fail "no device with $1"
            sleep 0.1
          done ;;
        /dev/*)
          i=0
          while ! [ -e "$1" ]; do
            i=$((i + 1))
            [ $i -gt ${toString (cfg.deviceTimeout * 10)} ] && fail "no device $1"
            sleep 0.1
          done ;;
      esac
      opts=$(echo "$4" | sed -e 's/\(^\|,\)defaults\(,\|$\)/\1\2/' -e 's/^,*//' -e 's/,*$//')
      mkdir -p "$target"
      mount -t "$3" ''${opts:+-o "$opts"} "$src" "$target" || fail "cannot mount $1 on $2"
    }

    mkdir -p /mnt-root
    ${rootLine}${concatMapStrings mountLine early}
    init=
    for p in $(cat /proc/cmdline); do
      case "$p" in
        init=*) init=''${p#init=} ;;
        kiln.shell1) fail "kiln.shell1 given" ;;
      esac
    done
    [ -n "$init" ] || fail "no init= on the kernel command line"
    [ -e "/mnt-root$init" ] || fail "$init is not in the new root"

    mkdir -p /mnt-root/dev
    mount --move /dev /mnt-root/dev
    umount /proc /sys
    echo "kiln stage 1: starting $init"
    exec switch_root /mnt-root "$init"
  '';

  initrd = pkgs.runCommand "initrd-${kernel.modDirVersion or "linux"}" {
    modules = concatStringsSep " " cfg.kernelModules;
    moduleDir = "${kernel}/lib/modules/${kernel.modDirVersion or ""}";
    # Static: the initrd holds no libc (the package set's `busybox` is linked against the
    # store's).
    busybox = "${pkgs.busybox-static}/bin/busybox";
  } ''
    set -e
    root=$PWD/root
    mkdir -p $root/bin $root/dev $root/proc $root/sys $root/etc $root/lib/modules $root/mnt-root
    cp "$(readlink -f "$busybox")" $root/bin/busybox
    for a in $($root/bin/busybox --list); do
      [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
    done

    # Module name (`-` and `_` are the same) -> file, and the modules built into the kernel.
    find "$moduleDir/kernel" -name '*.ko' > $PWD/all
    builtin=$PWD/builtin
    sed -e 's|.*/||' -e 's|\.ko$||' -e 's|-|_|g' "$moduleDir/modules.builtin" > $builtin
    find_module() {
      n=$(echo "$1" | tr - _)
      while read -r f; do
        b=$(basename "$f" .ko | tr - _)
        [ "$b" = "$n" ] && { echo "$f"; return 0; }
      done < $PWD/all
      return 1
    }
    # Depth first: a module's dependencies are listed before it, each once.
    : > $root/etc/kiln-modules
    add() {
      local n f d
      n=$(echo "$1" | tr - _)
      grep -qx "$n" $root/etc/kiln-modules && return 0
      grep -qx "$n" $builtin && return 0
      f=$(find_module "$n") || { echo "kernel module $1 not found in $moduleDir" >&2; exit 1; }
      for d in $(strings -n 3 "$f" | sed -n 's/^depends=//p' | tr , ' '); do
        add "$d"
      done
      cp "$f" "$root/lib/modules/$n.ko"
      echo "$n" >> $root/etc/kiln-modules
    }
    for m in $modules; do add "$m"; done

    cp ${init} $root/init
    chmod 0755 $root/init
    mkdir -p $out
    # The archive is written here rather than by `cpio -o`, whose headers carry each file's
    # inode number and modification time (busybox's cpio has no `--reproducible`): every
    # entry gets a sequential inode number, owner root, mtime 1 and one link, so the same
    # tree gives the same bytes. newc format: a 110-byte header of "070701" and 13 fields of
    # 8 hex digits, the name with its NUL, then the data, each padded to 4 bytes.
    ino=0
    pad() { printf '\000\000\000' | head -c $(( (4 - $1 % 4) % 4 )); }
    header() { # NAME MODE NLINK SIZE
      ino=$((ino + 1))
      printf '070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x' \
        $ino "$2" 0 0 "$3" 1 "$4" 0 0 0 0 $(( ''${#1} + 1 )) 0
      printf '%s\000' "$1"
      pad $(( 110 + ''${#1} + 1 ))
    }
    newc() {
      (cd $root && find . | sort) | while read -r p; do
        name=''${p#./}
        [ "$p" = . ] && name=.
        f=$root/$p
        if [ -L "$f" ]; then
          t=$(readlink "$f")
          header "$name" $((0120777)) 1 ''${#t}
          printf '%s' "$t"
          pad ''${#t}
        elif [ -d "$f" ]; then
          header "$name" $((040755)) 2 0
        else
          size=$(stat -c %s "$f")
          if [ -x "$f" ]; then mode=$((0100755)); else mode=$((0100644)); fi
          header "$name" $mode 1 $size
          cat "$f"
          pad $size
        fi
      done
      header TRAILER!!! 0 1 0
    }
    newc | gzip -9 > $out/initrd
    cp $root/etc/kiln-modules $out/modules
  '';
in
{
  options.boot.initrd = {
    enable = mkOption {
      type = types.bool;
      default = kernel != null;
      defaultText = "whether a kernel is configured";
      description = "Whether the toplevel has an initrd (stage 1), built by Kiln.";
    };

    availableKernelModules = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "virtio_pci" "virtio_blk" ];
      description = ''
        Kernel modules the initrd carries to find its disks (there is no udev in stage 1: all
        are loaded, after their dependencies).
      '';
    };

    kernelModules = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "virtio_net" ];
      description = ''
        Kernel modules the initrd loads, with `availableKernelModules` and the modules of the
        `neededForBoot` file systems' types; the dependencies of each come first.
      '';
    };

    deviceTimeout = mkOption {
      type = types.ints.positive;
      default = 20;
      description = "Seconds stage 1 waits for the device of a file system it mounts.";
    };
  };

  config = mkIf (cfg.enable && kernel != null) {
    # ext4 computes its checksums through the crypto API's crc32c, which it does not depend on.
    boot.initrd.kernelModules = mkBefore (cfg.availableKernelModules
      ++ concatMap (fs: optionals (fs.fsType == "ext4") [ "crc32c_generic" "ext4" ]
        ++ optional (elem fs.fsType [ "vfat" "xfs" "btrfs" ]) fs.fsType)
        (optional (root != null) root ++ early));
    system.build.initialRamdisk = initrd;
  };
}
