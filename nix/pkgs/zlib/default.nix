# zlib, from Debian's (repacked, DFSG) upstream tarball. Headers and the pkg-config file go
# to `dev`, which propagates `out`.
{ stdenv, debianSource }:

let
  src = debianSource "zlib";
in
stdenv.mkDerivation {
  pname = "zlib";
  version = src.upstreamVersion;
  inherit src;
  outputs = [ "out" "dev" ];
  # zlib's own configure script knows only its own flags.
  configureFlags = [ "--shared" ];
  doCheck = true;
  meta = {
    description = "Lossless data-compression library";
    homepage = "https://zlib.net";
    license = "Zlib";
  };
}
