# The standard environment, from the bootstrap's stage 1:
#
# * `libc`: the runtime C and C++ libraries programs are linked against (Debian's libc6,
#   libgcc-s1, libstdc++6 from stage 0, untouched, copied into their own store path; RUNPATH
#   into it; the host paths compiled into the loader and libc, `/lib/x86_64-linux-gnu` and
#   `/usr/lib`, overwritten by same-length names of no directory, so nothing is looked for on
#   the host). Programs built here need only this, not the 300 MB toolchain.
# * `cc`: the compiler wrapper: `cc`/`gcc`/`c++`/`g++`/`cpp` run stage 1's gcc-12 with
#   `--sysroot` = stage 1 (headers, start files, link-time libraries), and when linking the
#   dynamic linker and RUNPATH of `libc` (and `$out/lib`), plus `NIX_CFLAGS_COMPILE` and
#   `NIX_CFLAGS_LINK` (what the inputs add).
# * `stdenv`: `stdenv.mkDerivation`, `stdenv.shell` (stage 1's bash), `stdenv.cc`, the
#   `setup` script (`setup.sh`: phases, hooks, inputs), `stdenv.bootstrap` (the stages).
{
  lib,
  system,
  busybox,
  stage0,
  stage1,
}:

let
  inherit (builtins) concatStringsSep isFunction isList isAttrs removeAttrs;
  u = stage0.unpacked;
  bb = "${busybox}/bin/sh";
  shell = "${stage1}/bin/bash";

  # A derivation built by busybox's shell with stage 1 on PATH.
  bootstrapDrv =
    name: attrs: script:
    derivation (
      attrs
      // {
        inherit name system;
        builder = bb;
        PATH = "${busybox}/bin:${stage1}/usr/bin:${stage1}/bin";
        args = [
          "-ec"
          script
        ];
      }
    );

  rewritePaths = bootstrapDrv "kiln-rewrite-paths" { src = ../bootstrap/rewrite-paths.c; } ''
    mkdir -p $out/bin
    gcc-12 --sysroot=${stage1} -O2 -static -o $out/bin/rewrite-paths $src
  '';

  libc = bootstrapDrv "bootstrap-libc-${stage0.pins.libc6.version}" { } ''
    mkdir -p $out/lib
    cp -P ${u.libc6}/lib/x86_64-linux-gnu/*.so* $out/lib/
    cp -P ${u.libgcc-s1}/lib/x86_64-linux-gnu/*.so* $out/lib/
    cp -P ${u."libstdc++6"}/usr/lib/x86_64-linux-gnu/libstdc++.so* $out/lib/
    chmod -R u+w $out
    for f in $out/lib/*; do
      [ -L "$f" ] || continue
      t=$(readlink "$f")
      ln -sfn "$(basename "$t")" "$f"
    done
    for f in $out/lib/*; do
      [ -L "$f" ] && continue
      case "$f" in
        */ld-linux-x86-64.so.2) ;;
        *) patchelf --set-rpath $out/lib "$f" ;;
      esac
      ${rewritePaths}/bin/rewrite-paths "$f" /lib/x86_64-linux-gnu /usr/lib
    done
    mkdir -p $out/lib64
    ln -s ../lib/ld-linux-x86-64.so.2 $out/lib64/ld-linux-x86-64.so.2
  '';

  wrapper = tool: ''
    #!${shell}
    # Kiln's compiler wrapper (nix/pkgs/stdenv/default.nix).
    link=1
    for a in "$@"; do
      case "$a" in -c | -S | -E | -M | -MM | -fsyntax-only) link=0 ;; esac
    done
    flags=(--sysroot=${stage1} $NIX_CFLAGS_COMPILE)
    if [ "$link" = 1 ]; then
      flags+=(-Wl,--dynamic-linker=${libc}/lib/ld-linux-x86-64.so.2 -Wl,-rpath,${libc}/lib)
      [ -z "''${out:-}" ] || flags+=(-Wl,-rpath,"$out/lib")
      flags+=($NIX_CFLAGS_LINK)
    fi
    exec ${stage1}/usr/bin/${tool} "''${flags[@]}" "$@"
  '';

  cc = bootstrapDrv "kiln-cc-wrapper-gcc-12" {
    cWrapper = wrapper "gcc-12";
    cxxWrapper = wrapper "g++-12";
    passAsFile = [ "cWrapper" "cxxWrapper" ];
  } ''
    mkdir -p $out/bin
    cp $cWrapperPath $out/bin/cc
    cp $cxxWrapperPath $out/bin/c++
    chmod +x $out/bin/cc $out/bin/c++
    ln -s cc $out/bin/gcc
    ln -s c++ $out/bin/g++
    printf '#!${shell}\nexec ${stage1}/usr/bin/cpp-12 --sysroot=${stage1} "$@"\n' > $out/bin/cpp
    chmod +x $out/bin/cpp
  '';

  setup = bootstrapDrv "kiln-stdenv" { setupScript = ./setup.sh; } ''
    # The names Debian gives through its alternatives, which no package ships: `sh` is
    # bash, `awk` is gawk.
    mkdir -p $out/bin
    ln -s ${shell} $out/bin/sh
    ln -s ${stage1}/usr/bin/gawk $out/bin/awk
    {
      echo "initialPath=\"$out ${stage1}/usr ${stage1}\""
      echo 'defaultNativeBuildInputs="${cc}"'
      echo 'SHELL=${shell}'
      echo 'kilnLibc=${libc}'
      cat $setupScript
    } > $out/setup
  '';

  # Lists of inputs as the builder gets them: a multiple-output input by its `dev` output
  # when it has one (whose `nix-support` propagates the rest).
  inputPath = p: if isAttrs p && p ? dev then p.dev else p;

  mkDerivation =
    attrs0:
    let
      attrs =
        attrs0
        // lib.optionalAttrs (!(attrs0 ? name) && attrs0 ? pname) {
          name = "${attrs0.pname}-${attrs0.version}";
        };
      inputs = n: map inputPath (attrs.${n} or [ ]);
      flat = v: if isList v then concatStringsSep " " (map toString v) else v;
      env =
        removeAttrs attrs [
          "meta"
          "passthru"
          "nativeBuildInputs"
          "buildInputs"
          "propagatedBuildInputs"
          "propagatedNativeBuildInputs"
        ]
        // {
          inherit system;
          builder = shell;
          args = [
            "-e"
            ./default-builder.sh
          ];
          stdenv = setup;
          nativeBuildInputs = inputs "nativeBuildInputs";
          buildInputs = inputs "buildInputs";
          propagatedBuildInputs = inputs "propagatedBuildInputs";
          propagatedNativeBuildInputs = inputs "propagatedNativeBuildInputs";
          doCheck = if attrs.doCheck or false then "1" else "";
        }
        // builtins.mapAttrs (n: v: flat v) (
          builtins.intersectAttrs {
            configureFlags = 0;
            makeFlags = 0;
            buildFlags = 0;
            installFlags = 0;
            checkFlags = 0;
          } attrs
        );
      drv = derivation env;
      outputsSet = builtins.listToAttrs (
        map (o: {
          name = o;
          value = drv.${o} // (attrs.passthru or { });
        }) (attrs.outputs or [ "out" ])
      );
    in
    drv
    // outputsSet
    // (attrs.passthru or { })
    // {
      meta = attrs.meta or { };
      overrideAttrs =
        f:
        let
          r = f attrs;
        in
        mkDerivation (if isFunction r then lib.fix (final: attrs // f final attrs) else attrs // r);
    };
in
{
  inherit
    mkDerivation
    shell
    cc
    libc
    setup
    rewritePaths
    ;
  inherit system;
  bootstrap = {
    inherit stage0 stage1;
  };
}
