# `debianBinary { pname, buildInputs ? [ ], … }`: a package taken from Debian's binary
# package `pname` (pinned in `nix/pkgs/binaries.json`), for what is out of reach from source.
# The `.deb` is unpacked by `builtin:unpack`, copied into `$out` (Debian's `usr/` merged into
# the top, so `$out/bin`, `$out/lib/x86_64-linux-gnu`; absolute links point into `$out`), and fixed up like the bootstrap's stage 1 by
# `autoPatchelfHook`: interpreters and RUNPATHs into the store, a missing library an error.
# The pin's `depends` (its Debian dependencies that are pinned too, recorded by the updater)
# are `debianPackages.NAME`s added to `buildInputs`.
{
  lib,
  system,
  stdenv,
  fetchurl,
  autoPatchelfHook,
  debianPackages,
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
  # A store path name has no epoch (`1:`) and no `~`.
  version =
    let
      m = builtins.match "[0-9]+:(.*)" pin.version;
    in
    builtins.replaceStrings [ "~" ] [ "-" ] (if m == null then pin.version else builtins.head m);
  deb = fetchurl {
    url = "mirror://debian/${pin.path}";
    inherit (pin) sha256;
    name = builtins.replaceStrings [ "~" ] [ "-" ] (lib.baseName pin.path);
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
    buildInputs = map (d: debianPackages.${d}) (pin.depends or [ ]) ++ buildInputs;
    installPhase = ''
      runHook preInstall
      # Debian's `usr/` becomes the top (`$out/bin`, `$out/lib`, …), merged with `/bin`,
      # `/lib` as a merged-/usr system has them.
      mkdir -p $out
      cp -R $src/. $out/
      chmod -R u+w $out
      if [ -d $out/usr ]; then
        cp -R $out/usr/. $out/
        rm -rf $out/usr
      fi
      find $out -type l | while read -r l; do
        t=$(readlink "$l")
        case "$t" in
          /usr/*) ln -sfn "$out''${t#/usr}" "$l" ;;
          /*) ln -sfn "$out$t" "$l" ;;
        esac
      done
      runHook postInstall
    '';
    passthru = (args.passthru or { }) // {
      inherit deb unpacked;
      debianVersion = pin.version;
    };
  }
)
