# `fetchurl`: a fixed-output derivation downloaded in-process by Kiln's `builtin:fetchurl`, so
# it needs no tools and works before the bootstrap has any.
#
#   fetchurl { url = "mirror://debian/pool/main/h/hello/hello_2.10.orig.tar.gz"; hash = "sha256-…"; }
#
# * `url` or `urls` (tried in order). `mirror://NAME/PATH` is resolved when the file is
#   fetched, through the `mirrors` setting (`debian` defaults to the machine's apt mirror), so
#   no host is written in the package set and the derivation does not depend on the mirror.
# * The hash: an SRI `hash`, or `sha256`/`sha512`/`sha1` in any of Nix's encodings. A missing
#   hash is an error (the package set fetches nothing unpinned).
# * `recursiveHash = true` hashes the NAR of the file (with `executable`, always).
# * A Debian pool file that is gone (Debian keeps only current versions) fails with a hint to
#   re-pin the sources with `nix/pkgs/update`.
{ lib }:

{
  url ? null,
  urls ? [ ],
  name ? null,
  hash ? null,
  sha256 ? null,
  sha512 ? null,
  sha1 ? null,
  executable ? false,
  recursiveHash ? false,
  meta ? { },
  passthru ? { },
}:

let
  allUrls = (if url != null then [ url ] else [ ]) ++ urls;
  first =
    if allUrls == [ ] then throw "fetchurl: neither 'url' nor 'urls' was given" else builtins.head allUrls;
  hashAttrs =
    if hash != null then
      { outputHash = hash; }
    else if sha256 != null then
      {
        outputHash = sha256;
        outputHashAlgo = "sha256";
      }
    else if sha512 != null then
      {
        outputHash = sha512;
        outputHashAlgo = "sha512";
      }
    else if sha1 != null then
      {
        outputHash = sha1;
        outputHashAlgo = "sha1";
      }
    else
      throw "fetchurl: '${first}' has no hash ('hash', 'sha256', 'sha512' or 'sha1'); the package set fetches only pinned sources";
  isDebianPool = builtins.match "mirror://debian/pool/.*" first != null;
  drv = derivation (
    {
      name = if name != null then name else lib.baseName first;
      builder = "builtin:fetchurl";
      system = "builtin";
      urls = allUrls;
      inherit executable;
      outputHashMode = if recursiveHash || executable then "recursive" else "flat";
      preferLocalBuild = true;
    }
    // lib.optionalAttrs isDebianPool {
      notFoundHint = "Debian's pool keeps only current versions: run 'nix/pkgs/update' to re-pin the package set's sources";
    }
    // hashAttrs
  );
in
drv // passthru // { inherit meta; url = first; }
