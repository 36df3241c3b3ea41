# Stage 1 of the bootstrap: the toolchain of stage 0's Debian packages, merged into one tree
# and made to run from the store. Every ELF executable's interpreter becomes the tree's own
# `ld-linux-x86-64.so.2` and every ELF file's RUNPATH the tree's library directories (with the
# pinned patchelf, run through the pinned libc's dynamic loader, since nothing runs before);
# links to absolute paths (`/lib/…`, `/usr/…`) point into the tree. Nothing runs from `/lib`
# or `/usr` afterwards.
#
# The tree keeps Debian's layout (`usr/bin/gcc-12`, `usr/include`, `lib/x86_64-linux-gnu`),
# so it is also the compiler's `--sysroot`: headers, start files, libraries and the linker
# scripts of libc (whose `/lib/…` names the linker resolves inside the sysroot) are found in
# it without any path of the host.
{
  system,
  busybox,
  stage0,
}:

let
  # Everything but busybox, which stage 0 already made runnable.
  toolchain = builtins.attrValues (builtins.removeAttrs stage0.unpacked [ "busybox-static" ]);
  u = stage0.unpacked;
  # patchelf runs from stage 0's unpacked packages, untouched, through their loader (the
  # tree's own libraries are rewritten while it runs).
  loader = "${u.libc6}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
  loaderPath = "${u.libc6}/lib/x86_64-linux-gnu:${u."libstdc++6"}/usr/lib/x86_64-linux-gnu:${u.libgcc-s1}/lib/x86_64-linux-gnu";
in
derivation {
  name = "bootstrap-stage1-tools";
  inherit system;
  builder = "${busybox}/bin/sh";
  PATH = "${busybox}/bin";
  debs = toolchain;
  args = [
    "-ec"
    ''
      mkdir -p $out
      for p in $debs; do
        cp -RP "$p"/. $out/
        chmod -R u+w $out
      done

      # Links to absolute paths lead into the tree.
      find $out -type l | while read -r l; do
        t=$(readlink "$l")
        case "$t" in
          /*) ln -sfn "$out$t" "$l" ;;
        esac
      done

      ld=$out/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
      libs=$out/lib/x86_64-linux-gnu:$out/usr/lib/x86_64-linux-gnu
      patchelf() { ${loader} --library-path ${loaderPath} ${u.patchelf}/usr/bin/patchelf "$@"; }
      for d in bin sbin lib lib64 usr/bin usr/sbin usr/lib usr/libexec; do
        [ -d $out/$d ] || continue
        find $out/$d -type f ! -name '*.a' ! -name '*.o' ! -name '*.h' | while read -r f; do
          [ "$(dd if="$f" bs=1 skip=1 count=3 2>/dev/null)" = ELF ] || continue
          case "$f" in
            */ld-linux-x86-64.so.2) continue ;;
          esac
          if patchelf --print-interpreter "$f" > /dev/null 2>&1; then
            patchelf --set-interpreter "$ld" --set-rpath "$libs" "$f"
          elif patchelf --print-rpath "$f" > /dev/null 2>&1; then
            patchelf --set-rpath "$libs" "$f"
          fi
        done
      done
      # What runs now runs from the store.
      $out/usr/bin/patchelf --version
      $out/usr/bin/gcc-12 --version | head -n 1
    ''
  ];
}
