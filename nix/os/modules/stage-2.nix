# Stage 2: the toplevel's `init`, run as PID 1 by stage 1 in the new root (a tmpfs `/` with the
# `neededForBoot` file systems mounted). It mounts the API file systems, restores the
# generation's activated root as kiln-os made it (`/nix/var/kiln/activated/<toplevel>`: `/etc`
# with the user database, homes, tmpfiles), brings back the declared state from `state.root`
# (directories bind-mounted, files bind-mounted or linked, with their owner and mode), adds the
# links the Debian-built systemd expects (`/lib/systemd`, `/bin/sh`, `/bin/mount`), runs
# `activate`, and execs systemd from the store as PID 1 (busybox's init when there is no
# systemd).
{ config, lib, pkgs, ... }:
with lib;
let
  systemd = config.systemd.package;
  busybox = pkgs.busybox;
  st = config.state;
  categories = [ "provisioning" "data" "cache" "telemetry" ];
  entries = concatMap (c: map (e: e // { category = c; }) st.${c}) categories;
  q = escapeShellArg;

  restoreEntry = e: let
    src = "${st.root}${e.path}";
  in if e.kind == "directory" then ''
    restore_dir ${q src} ${q e.path} ${q e.user} ${q e.group} ${q e.mode}
  '' else ''
    restore_file ${q src} ${q e.path} ${q e.user} ${q e.group} ${q e.mode}
  '';

  script = pkgs.writeShellScript "stage-2-init" (''
    # Stage 2 of a Kiln system. $1: the toplevel (the init's own directory).
    toplevel=$1
    shift
    export PATH=${busybox}/bin
    echo "kiln stage 2: $toplevel"
    mkdir -p /proc /sys /dev /run /tmp /var /root /etc
    [ -e /proc/self ] || mount -t proc proc /proc
    mounted() { grep -q "^[^ ]* $1 " /proc/mounts; }
    mounted /sys || mount -t sysfs sysfs /sys
    mounted /dev || mount -t devtmpfs devtmpfs /dev
    mounted /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
    chmod 1777 /tmp
    chmod 0700 /root

    # The generation as kiln-os activated it.
    activated=/nix/var/kiln/activated/$(basename "$toplevel")
    if [ -d "$activated" ]; then
      cp -a "$activated/." /
    else
      echo "kiln stage 2: $activated is missing (no activation by kiln-os); /etc is the etc tree only"
      ln -sfn "$toplevel/etc" /etc/static
    fi
    ln -sfn "$toplevel" /run/current-system
    ln -sfn "$toplevel" /run/booted-system
    # The boot loader's state is on the nix disk (where the VM's loader reads it).
    if [ -d /nix/var/kiln/boot ] && [ ! -e /boot ]; then
      ln -s /nix/var/kiln/boot /boot
    fi

    # Declared state, from ${st.root}.
    restore_dir() {
      mkdir -p "$1" "$2"
      chown "$3:$4" "$1" && chmod "$5" "$1" || echo "kiln stage 2: cannot set the owner or mode of $1"
      mount --bind "$1" "$2" || echo "kiln stage 2: cannot bind $1 on $2"
    }
    # A file not yet in the state root is a link to where it will be, so the first writer
    # creates it there.
    restore_file() {
      mkdir -p "$(dirname "$1")" "$(dirname "$2")"
      if [ -e "$1" ]; then
        chown "$3:$4" "$1" && chmod "$5" "$1" || echo "kiln stage 2: cannot set the owner or mode of $1"
        rm -f "$2"
        touch "$2"
        mount --bind "$1" "$2" || echo "kiln stage 2: cannot bind $1 on $2"
      else
        rm -f "$2"
        ln -s "$1" "$2"
      fi
    }
    if mounted ${q st.root}; then
      :
    ${concatMapStrings restoreEntry entries}
    else
      echo "kiln stage 2: ${st.root} is not mounted; the declared state is not restored"
    fi
  '' + optionalString (systemd != null) ''

    # The Debian-built systemd looks for its units, generators and helpers under /lib/systemd
    # and runs /bin/mount, /bin/sh.
    mkdir -p /bin /lib /usr/lib
    for f in ${busybox}/bin/* ${systemd}/bin/*; do
      ln -sfn "$f" "/bin/$(basename "$f")"
    done
    ln -sfn /bin /sbin
    ln -sfn /bin /usr/bin
    ln -sfn /bin /usr/sbin
    ln -sfn ${systemd}/lib/systemd /lib/systemd
    ln -sfn ${systemd}/lib/systemd /usr/lib/systemd
  '' + ''

    "$toplevel/activate" || echo "kiln stage 2: activation failed"
    # What is written on / after this is ephemeral (`kiln-os-audit` lists it).
    mkdir -p /run/kiln
    touch /run/kiln/boot-stamp
  '' + (if systemd != null then ''
    echo "kiln stage 2: starting systemd"
    exec ${systemd}/lib/systemd/systemd --unit=${q config.systemd.defaultUnit} "$@"
  '' else ''
    exec ${busybox}/bin/init "$@"
  ''));
in
{
  options.systemd.package = mkOption {
    type = types.nullOr types.package;
    default = pkgs.systemd or null;
    defaultText = "pkgs.systemd, else null";
    description = "The systemd that stage 2 execs as PID 1 (null: busybox's init).";
  };

  options.systemd.defaultUnit = mkOption {
    type = types.str;
    default = "multi-user.target";
    description = "The unit systemd starts at boot.";
  };

  options.system.build.bootStage2 = mkOption {
    type = types.package;
    internal = true;
    readOnly = true;
    description = "The stage 2 script; the toplevel's `init` runs it with the toplevel's path.";
  };

  config.system.build.bootStage2 = script;
  # The package set has no udev: no device units appear, so systemd must not wait for the
  # console's device (getty) or ask for a first-boot setup on the console.
  config.boot.kernelParams = mkIf (systemd != null) [ "systemd.firstboot=off" "systemd.getty_auto=0" ];
}
