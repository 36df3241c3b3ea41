# `<nix/fetchurl.nix>`, as Kiln ships it: a fixed-output derivation built in-process by
# `builtin:fetchurl` (crates/build/src/builtin_fetchurl.rs), which downloads `url`, unpacks it
# when `unpack` is set and makes it executable when `executable` is set. Its attributes are
# those Nix's own `<nix/fetchurl.nix>` gives the derivation, so the `.drv` (and its path) is the
# same for the same arguments.
#
# The expected hash is an SRI `hash`, or one of the legacy `md5`/`sha1`/`sha256`/`sha512`
# (first non-empty of sha512, sha1, md5, then sha256); `outputHash`/`outputHashAlgo` override
# both. With `impure = true` there is no hash, and the derivation is marked `__impure`.
#
# Embedded in the evaluator with include_str! and found by `<nix/fetchurl.nix>` when no
# search path entry provides that file.
{
  system ? "", # unused, accepted for old callers
  url,
  hash ? "",
  md5 ? "",
  sha1 ? "",
  sha256 ? "",
  sha512 ? "",
  outputHash ?
    if hash != "" then hash
    else if sha512 != "" then sha512
    else if sha1 != "" then sha1
    else if md5 != "" then md5
    else sha256,
  outputHashAlgo ?
    if hash != "" then ""
    else if sha512 != "" then "sha512"
    else if sha1 != "" then "sha1"
    else if md5 != "" then "md5"
    else "sha256",
  executable ? false,
  unpack ? false,
  name ? baseNameOf (toString url),
  impure ? false,
}:

derivation (
  {
    builder = "builtin:fetchurl";
    system = "builtin";
    inherit name url executable unpack;
    urls = [ url ];
    # A file is hashed as it is; an unpacked tree or an executable, as its NAR.
    outputHashMode = if unpack || executable then "recursive" else "flat";
    # Fetched by this machine rather than a remote builder.
    preferLocalBuild = true;
    # Has no effect (builtin builders see the caller's environment); kept so that the
    # derivation is the one Nix makes.
    impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
  }
  // (if impure then { __impure = true; } else { inherit outputHashAlgo outputHash; })
)
