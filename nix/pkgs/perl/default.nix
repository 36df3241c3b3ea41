# Perl 5 from its source, a build tool (OpenSSL's `Configure`, autoconf, automake). Its shell
# (`system`, `exec` and pipe opens with shell syntax, MakeMaker's `SHELL`) is the stdenv's
# bash by its store path (`-Dsh`): builds have no `/bin/sh`. Library paths are found through
# the compiler (`--sysroot`), headers in the bootstrap's `usr/include`. No manuals. Its
# closure: itself, the runtime libc and Debian's libcrypt1.
{ stdenv, debianSource, debianPackages }:

let
  src = debianSource "perl";
in
stdenv.mkDerivation {
  pname = "perl";
  version = src.upstreamVersion;
  inherit src;
  # `crypt` is in libxcrypt (Debian's libcrypt1), not in the runtime libc.
  buildInputs = [ debianPackages.libcrypt1 ];
  NIX_CFLAGS_LINK = "-Wl,-rpath,${debianPackages.libcrypt1}/lib/x86_64-linux-gnu";
  configurePhase = ''
    runHook preConfigure
    $SHELL ./Configure -des \
      -Dprefix=$out \
      -Dsh=$SHELL \
      -Dstartsh="#!$SHELL" \
      -Dcc=cc \
      -Dusrinc=${stdenv.bootstrap.stage1}/usr/include \
      -Dlocincpth= \
      -Dloclibpth= \
      -Dman1dir=none \
      -Dman3dir=none \
      -Uinstallusrbinperl \
      -Dinstallstyle=lib/perl5 \
      -Dcf_by=kiln -Dcf_email=kiln@localhost -Dperladmin=kiln@localhost -Dmyhostname=localhost -Dmydomain=.localdomain -Dcf_time="Thu Jan  1 00:00:00 UTC 1970"
    runHook postConfigure
  '';
  # Perl installs its files read-only; the fixup rewrites them (strip, RPATH).
  postInstall = ''
    chmod -R u+w $out
  '';
  # Lists what is still read-only or hard-linked before the fixup rewrites the files.
  preFixup = ''
    find $out -type f ! -writable -ls | head -n 20
    find $out -type f -links +1 -ls | head -n 20
  '';
  # What runs is the store's perl, with its shell and library.
  doInstallCheck = true;
  installCheckPhase = ''
    $out/bin/perl -MIPC::Cmd -MData::Dumper -MFile::Spec -MPOSIX -e 'print "perl $^V\n"; print `echo shell works | cat`'
  '';
  meta = {
    description = "The Perl 5 programming language";
    homepage = "https://www.perl.org";
    license = "GPL-1.0-or-later OR Artistic-1.0-Perl";
    mainProgram = "perl";
  };
}
