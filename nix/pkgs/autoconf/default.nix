# GNU Autoconf, to make the `configure` scripts that upstream tarballs built from a git tag
# (htop's) do not ship. Its programs are perl scripts run by the set's `perl` and call `m4`
# by its store path.
{ stdenv, debianSource, m4, perl }:

let
  src = debianSource "autoconf";
in
stdenv.mkDerivation {
  pname = "autoconf";
  version = src.upstreamVersion;
  inherit src;
  nativeBuildInputs = [ m4 perl ];
  # autoreconf and aclocal need them where the tool is used, too.
  propagatedNativeBuildInputs = [ m4 perl ];
  meta = {
    description = "Generates configure scripts";
    homepage = "https://www.gnu.org/software/autoconf/";
    license = "GPL-3.0-or-later";
    mainProgram = "autoconf";
  };
}
