# GNU hello, from the upstream release Debian keeps in its pool.
{ stdenv, debianSource }:

let
  src = debianSource "hello";
in
stdenv.mkDerivation {
  pname = "hello";
  version = src.upstreamVersion;
  inherit src;
  doCheck = true;
  meta = {
    description = "A program that produces a familiar, friendly greeting";
    homepage = "https://www.gnu.org/software/hello/";
    license = "GPL-3.0-or-later";
    mainProgram = "hello";
  };
}
