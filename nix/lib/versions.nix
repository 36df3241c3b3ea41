# Version strings: components and their prefixes.
{ lib }:
rec {
  splitVersion = builtins.splitVersion;
  major = v: builtins.elemAt (splitVersion v) 0;
  minor = v: builtins.elemAt (splitVersion v) 1;
  patch = v: builtins.elemAt (splitVersion v) 2;
  majorMinor = v: builtins.concatStringsSep "." (lib.lists.take 2 (splitVersion v));
  pad = n: version:
    let
      numericVersion = builtins.head (builtins.splitVersion version);
      parts = splitVersion version;
      len = builtins.length parts;
    in if len >= n then version else version + builtins.concatStringsSep "" (builtins.genList (_: ".0") (n - len));
}
