# `debianBinary { pname, buildInputs ? [ ], … }`: a package taken from Debian's binary
# package `pname` (pinned in `nix/pkgs/binaries.json`), for what is out of reach from source.
# The `.deb` is unpacked by `builtin:unpack`, copied into `$out` with Debian's layout (`usr/…`;
# absolute links point into `$out`), and fixed up like the bootstrap's stage 1 by
# `autoPatchelfHook`: interpreters and RUNPATHs into the store, a missing library an error.
{
  lib,
  system,
  stdenv,
  fetchurl,
  autoPatchelfHook,
}:

{
  pname,
  buildInputs ? [ ],
  ...
}@args:

let
  pins = builtins.fromJSON (builtins.readFile ../binaries.json);
  pin =
    (pins.${system} or { }).${pname}
      or (throw "no Debian binary package '${pname}' is pinned for ${system}; run 'nix/pkgs/update --add-deb ${pname}'");
  version =
    let
      m = builtins.match "[0-9]+:(.*)" pin.version;
    in
    if m == null then pin.version else builtins.head m;
  deb = fetchurl {
    url = "mirror://debian/${pin.path}";
    inherit (pin) sha256;
    name = lib.baseName pin.path;
  };
  unpacked = derivation {
    name = "${pname}-${version}-unpacked";
    builder = "builtin:unpack";
    system = "builtin";
    src = deb;
  };
in
stdenv.mkDerivation (
  builtins.removeAttrs args [ "pname" ]
  // {
    name = "${pname}-${version}";
    src = unpacked;
    dontUnpack = true;
    dontConfigure = true;
    dontBuild = true;
    dontStrip = true;
    nativeBuildInputs = [ autoPatchelfHook ] ++ (args.nativeBuildInputs or [ ]);
    inherit buildInputs;
    installPhase = ''
      runHook preInstall
      mkdir -p $out
      cp -R $src/. $out/
      chmod -R u+w $out
      find $out -type l | while read -r l; do
        t=$(readlink "$l")
        case "$t" in /*) ln -sfn "$out$t" "$l" ;; esac
      done
      runHook postInstall
    '';
    passthru = (args.passthru or { }) // {
      inherit deb unpacked;
      debianVersion = pin.version;
    };
  }
)
