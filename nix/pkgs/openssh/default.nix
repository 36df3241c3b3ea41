# OpenSSH, the client and server, with its own cryptography (`--without-openssl`: ed25519,
# chacha20-poly1305, curve25519 keys and ciphers; OpenSSL needs perl in the bootstrap) and
# zlib. Configuration is read from /etc/ssh; `ssh-keygen -A` makes the host keys at
# activation, not here.
{ stdenv, debianSource, zlib, debianPackages }:

let
  src = debianSource "openssh";
in
stdenv.mkDerivation {
  pname = "openssh";
  version = src.upstreamVersion;
  inherit src;
  buildInputs = [ zlib ];
  # sshd links libcrypt (crypt(3)), which the compiler finds in the bootstrap; at run time it
  # comes from Debian's libcrypt1, whose library directory is not `lib/`.
  LDFLAGS = "-Wl,-rpath,${debianPackages.libcrypt1}/lib/x86_64-linux-gnu";
  configureFlags = [
    "--without-openssl"
    "--sysconfdir=/etc/ssh"
    "--with-privsep-path=/var/empty"
    "--with-pid-dir=/run"
    "--without-zlib-version-check"
    "--disable-strip"
  ];
  installTargets = "install-nokeys";
  # The configuration and the privilege separation directory belong to the system.
  installFlags = [
    "sysconfdir=${placeholder "out"}/etc/ssh"
    "PRIVSEP_PATH=${placeholder "out"}/var/empty"
  ];
  meta = {
    description = "An implementation of the SSH protocol";
    homepage = "https://www.openssh.com";
    license = "BSD-2-Clause";
    mainProgram = "ssh";
  };
}
