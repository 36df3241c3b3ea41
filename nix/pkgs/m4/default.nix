# GNU m4, the macro processor autoconf runs on.
{ stdenv, debianSource }:

let
  src = debianSource "m4";
in
stdenv.mkDerivation {
  pname = "m4";
  version = src.upstreamVersion;
  inherit src;
  meta = {
    description = "GNU macro processor";
    homepage = "https://www.gnu.org/software/m4/";
    license = "GPL-3.0-or-later";
    mainProgram = "m4";
  };
}
