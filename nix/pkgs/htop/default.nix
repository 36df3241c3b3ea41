# htop, the interactive process viewer, against ncurses (wide characters). Debian's orig
# tarball is upstream's git tag, without `configure`: it is made here by `autoreconf`
# (autoconf, automake, m4 and perl, all build tools; none is in htop's closure).
{ stdenv, debianSource, ncurses, autoconf, automake }:

let
  src = debianSource "htop";
in
stdenv.mkDerivation {
  pname = "htop";
  version = src.upstreamVersion;
  inherit src;
  nativeBuildInputs = [ autoconf automake ];
  buildInputs = [ ncurses ];
  preConfigure = ''
    autoreconf --force --install
  '';
  configureFlags = [
    "--enable-unicode"
    "--disable-hwloc"
    "--disable-sensors"
    "--disable-capabilities"
    "--disable-delayacct"
    "--disable-unwind"
  ];
  meta = {
    description = "An interactive process viewer";
    homepage = "https://htop.dev";
    license = "GPL-2.0-or-later";
    mainProgram = "htop";
  };
}
