# htop, the interactive process viewer.
{ stdenv, debianSource, ncurses }:

let
  src = debianSource "htop";
in
stdenv.mkDerivation {
  pname = "htop";
  version = src.upstreamVersion;
  inherit src;
  buildInputs = [ ncurses ];
  configureFlags = [ "--enable-unicode" "--disable-sensors" "--disable-unwind" ];
  meta = {
    description = "An interactive process viewer";
    homepage = "https://htop.dev";
    license = "GPL-2.0-only";
    mainProgram = "htop";
  };
}
