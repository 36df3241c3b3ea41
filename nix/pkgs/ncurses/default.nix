# ncurses with wide-character support (`libncursesw`, `libtinfow`), shared libraries and
# pkg-config files; also the `libncurses`/`libtinfo` names that older configure scripts look
# for, as links.
{ stdenv, debianSource }:

let
  src = debianSource "ncurses";
in
stdenv.mkDerivation {
  pname = "ncurses";
  version = src.upstreamVersion;
  inherit src;
  outputs = [ "out" "dev" ];
  configureFlags = [
    "--with-shared"
    "--without-debug"
    "--without-ada"
    "--without-tests"
    "--without-cxx-binding"
    "--enable-widec"
    "--with-termlib"
    "--enable-pc-files"
    "--with-pkg-config-libdir=${placeholder "out"}/lib/pkgconfig"
    "--with-default-terminfo-dir=${placeholder "out"}/share/terminfo"
  ];
  postInstall = ''
    cd $out/lib
    for l in ncurses form panel menu tinfo; do
      [ -e lib''${l}w.so ] && ln -sf lib''${l}w.so lib$l.so
      [ -e lib''${l}w.a ] && ln -sf lib''${l}w.a lib$l.a
      [ -e pkgconfig/''${l}w.pc ] && ln -sf ''${l}w.pc pkgconfig/$l.pc
    done
    ln -sf libncursesw.so libcurses.so
    cd $out/include
    ln -sf ncursesw ncurses
    for h in ncursesw/*.h; do ln -sf $h .; done
  '';
  # `ncursesw6-config` is a shell script for builds (its `#!` the bootstrap's bash): in `dev`,
  # so that programs using ncurses do not keep the bootstrap toolchain in their closure.
  postFixup = ''
    mkdir -p $dev/bin
    mv $out/bin/ncurses*-config $dev/bin/
  '';
  meta = {
    description = "Free software emulation of curses";
    homepage = "https://invisible-island.net/ncurses/";
    license = "MIT";
  };
}
