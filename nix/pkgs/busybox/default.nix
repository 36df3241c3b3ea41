# BusyBox from its source: `make defconfig` (every applet upstream enables by default), then a
# few settings changed: installed into `bin`/`sbin` only (no `usr/`), linked dynamically
# against the store's libc, no build timestamp (reproducible), and `tc` left out (its
# traffic-control code does not build with the kernel headers of Linux 6.1). `bin/busybox`
# plus a link per applet.
#
# (The bootstrap keeps Debian's static busybox, `bootstrap.stage0.busybox`: the trivial
# builders run with it, so they need no compiler.)
{ stdenv, debianSource }:

let
  src = debianSource "busybox";
in
stdenv.mkDerivation {
  pname = "busybox";
  version = src.upstreamVersion;
  inherit src;
  KCONFIG_NOTIMESTAMP = "1";
  # The build's `split-include` lists stale headers of an earlier configuration with
  # `popen("find …")`, which needs `/bin/sh`; a build from a fresh tree has none, so it reads
  # an empty list instead.
  postPatch = ''
    sed -i \
      -e 's|popen("find \* -type f -name \\"\*.h\\" -print", "r")|fopen("/dev/null", "r")|' \
      -e 's|pclose(fp_find)|fclose(fp_find)|' \
      scripts/basic/split-include.c
    grep -q 'fopen("/dev/null", "r")' scripts/basic/split-include.c
  '';
  configurePhase = ''
    runHook preConfigure
    patchShebangs .
    make SHELL="$SHELL" defconfig
    set_config() {
      sed -i -e "/^$1=/d" -e "/^# $1 is not set/d" .config
      echo "$1=$2" >> .config
    }
    unset_config() {
      sed -i -e "/^$1=/d" -e "/^# $1 is not set/d" .config
      echo "# $1 is not set" >> .config
    }
    set_config CONFIG_INSTALL_NO_USR y
    set_config CONFIG_PREFIX "\"$out\""
    unset_config CONFIG_STATIC
    unset_config CONFIG_TC
    unset_config CONFIG_FEATURE_TC_INGRESS
    # Accept the defaults of whatever the changes brought in.
    (yes "" || true) | make SHELL="$SHELL" oldconfig > /dev/null
    runHook postConfigure
  '';
  makeFlags = [ "V=1" ];
  installPhase = ''
    runHook preInstall
    make SHELL="$SHELL" install
    rm -f $out/linuxrc
    runHook postInstall
  '';
  meta = {
    description = "Tiny versions of common UNIX utilities in a single small executable";
    homepage = "https://busybox.net";
    license = "GPL-2.0-only";
    mainProgram = "busybox";
  };
}
