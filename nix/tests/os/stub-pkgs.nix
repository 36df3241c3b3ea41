# A stand-in package set for evaluation tests of nix/os: the names nix/os uses, as derivations
# with `/bin/sh` builders. Nothing here is meant to be built.
{ system ? "x86_64-linux" }:
let
  drv = name: attrs: derivation ({
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" "echo stub > $out" ];
  } // attrs);
  pkg = name: drv name { };
in
rec {
  runCommand = name: env: buildCommand: derivation (env // {
    inherit name system buildCommand;
    builder = "/bin/sh";
    args = [ "-c" buildCommand ];
  });
  writeTextFile = { name, text, executable ? false, destination ? "" }:
    runCommand name { inherit text executable destination; } "stub";
  writeText = name: text: writeTextFile { inherit name text; };
  writeShellScript = name: text: writeTextFile {
    inherit name;
    executable = true;
    text = "#!/bin/sh\n" + text;
  };
  buildEnv = { name, paths, pathsToLink ? [ "/" ] }:
    runCommand name { inherit paths pathsToLink; } "stub";
  symlinkJoin = { name, paths }: runCommand name { inherit paths; } "stub";
  busybox = pkg "busybox-1.36.1";
  busybox-static = pkg "busybox-static-1.36.1";
  openssh = pkg "openssh-9.6p1";
  hello = pkg "hello-2.12";
  linuxPackages = { kernel = pkg "linux-6.6"; };
}
