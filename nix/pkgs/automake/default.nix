# GNU Automake (`aclocal`, `automake`): `Makefile.in` from `Makefile.am`, for packages whose
# tarball has only `configure.ac` (htop). Perl scripts, like autoconf, which it propagates.
{ stdenv, debianSource, autoconf, perl }:

let
  src = debianSource "automake-1.16";
in
stdenv.mkDerivation {
  pname = "automake";
  version = src.upstreamVersion;
  inherit src;
  nativeBuildInputs = [ autoconf perl ];
  propagatedNativeBuildInputs = [ autoconf ];
  # `pre-inst-env`, which runs the new programs to make their manuals, is made by configure
  # with a `#!/bin/sh` line.
  postConfigure = ''
    patchShebangs .
  '';
  meta = {
    description = "Generates Makefile.in files for configure scripts";
    homepage = "https://www.gnu.org/software/automake/";
    license = "GPL-2.0-or-later";
    mainProgram = "automake";
  };
}
