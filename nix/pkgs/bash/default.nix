# GNU Bash, with `sh` linking to it.
{ stdenv, debianSource }:

let
  src = debianSource "bash";
in
stdenv.mkDerivation {
  pname = "bash";
  version = src.upstreamVersion;
  inherit src;
  configureFlags = [ "--without-bash-malloc" "--disable-nls" ];
  postInstall = ''
    ln -s bash $out/bin/sh
    rm -f $out/bin/bashbug
    # For building loadable builtins; it names the bootstrap's compiler, which would be
    # in bash's closure.
    rm -f $out/lib/bash/Makefile.inc
  '';
  passthru.shellPath = "/bin/bash";
  meta = {
    description = "GNU Bourne-Again Shell, the de facto standard shell on Linux";
    homepage = "https://www.gnu.org/software/bash/";
    license = "GPL-3.0-or-later";
    mainProgram = "bash";
  };
}
