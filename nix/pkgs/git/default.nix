# Git, without the parts that need perl, python, Tcl/Tk, gettext, curl or expat (so no
# `git send-email`, no HTTP transport; local, SSH and git:// remotes work). Its closure:
# itself, bash, zlib and the runtime libc.
{ stdenv, debianSource, zlib, bash }:

let
  src = debianSource "git";
in
stdenv.mkDerivation {
  pname = "git";
  version = src.upstreamVersion;
  inherit src;
  buildInputs = [ zlib ];
  dontConfigure = true;
  makeFlags = [
    "prefix=${placeholder "out"}"
    # Its shell scripts (`git-sh-setup`, …) run with the set's bash, not the bootstrap's:
    # the bootstrap toolchain stays out of git's closure.
    "SHELL_PATH=${bash}/bin/bash"
    "NO_PERL=1"
    "NO_PYTHON=1"
    "NO_TCLTK=1"
    "NO_GETTEXT=1"
    "NO_CURL=1"
    "NO_EXPAT=1"
    "NO_OPENSSL=1"
    "INSTALL_SYMLINKS=1"
  ];
  meta = {
    description = "Distributed version control system";
    homepage = "https://git-scm.com";
    license = "GPL-2.0-only";
    mainProgram = "git";
  };
}
