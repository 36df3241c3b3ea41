# less, the pager.
{ stdenv, debianSource, ncurses }:

let
  src = debianSource "less";
in
stdenv.mkDerivation {
  pname = "less";
  version = src.upstreamVersion;
  inherit src;
  buildInputs = [ ncurses ];
  configureFlags = [ "--with-regex=posix" ];
  meta = {
    description = "A file pager that is more than more";
    homepage = "https://www.greenwoodsoftware.com/less/";
    license = "GPL-3.0-or-later";
    mainProgram = "less";
  };
}
