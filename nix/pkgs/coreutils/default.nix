# GNU coreutils.
{ stdenv, debianSource }:

let
  src = debianSource "coreutils";
in
stdenv.mkDerivation {
  pname = "coreutils";
  version = src.upstreamVersion;
  inherit src;
  configureFlags = [ "--disable-nls" "--enable-no-install-program=kill,uptime" ];
  meta = {
    description = "The GNU core utilities: basic file, shell and text manipulation";
    homepage = "https://www.gnu.org/software/coreutils/";
    license = "GPL-3.0-or-later";
  };
}
