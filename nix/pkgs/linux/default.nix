# The Linux kernel and its modules, from Debian's binary package (building it from source is
# out of reach of the bootstrap for now): `$out/bzImage`, `$out/lib/modules/VERSION`,
# `$out/System.map`, `$out/config`. `modDirVersion` is the modules directory's name.
{ debianBinary }:

let
  abi = "6.1.0-50-amd64";
in
debianBinary {
  pname = "linux-image-${abi}";
  postInstall = ''
    ln -s boot/vmlinuz-${abi} $out/bzImage
    ln -s boot/System.map-${abi} $out/System.map
    ln -s boot/config-${abi} $out/config
  '';
  passthru = {
    modDirVersion = abi;
    kernelFile = "bzImage";
  };
  meta = {
    description = "The Linux kernel (Debian's build)";
    license = "GPL-2.0-only";
  };
}
