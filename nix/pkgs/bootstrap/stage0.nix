# Stage 0 of the bootstrap: pinned Debian binary packages, fetched from the `debian` mirror
# and unpacked into store paths by Kiln's `builtin:unpack` (no tool runs yet), then the static
# busybox with a link per applet, the first thing that can run a shell.
#
# Each package of `pins.json` (for this system) becomes `debs.NAME` (the `.deb`, a fixed-output
# fetch whose hash is the one in Debian's index) and `unpacked.NAME` (its files, as the
# package lays them out: `bin/`, `usr/…`).
{ lib, fetchurl, system }:

let
  allPins = builtins.fromJSON (builtins.readFile ./pins.json);
  pins =
    allPins.${system}
      or (throw "the bootstrap has no Debian packages pinned for '${system}' (nix/pkgs/bootstrap/pins.json has ${
        builtins.concatStringsSep ", " (builtins.filter (n: n != "comment" && n != "suite") (builtins.attrNames allPins))
      })");
  # Debian versions may carry an epoch (`1:`), which a store path name cannot.
  plainVersion =
    v:
    let
      m = builtins.match "[0-9]+:(.*)" v;
    in
    builtins.replaceStrings [ "~" ] [ "-" ] (if m == null then v else builtins.head m);
  fetchDeb =
    name: pin:
    fetchurl {
      url = "mirror://debian/${pin.path}";
      sha256 = pin.sha256;
      name = builtins.replaceStrings [ "~" ] [ "-" ] (lib.baseName pin.path);
    };
  unpackDeb =
    name: pin:
    derivation {
      name = "${name}-${plainVersion pin.version}";
      builder = "builtin:unpack";
      system = "builtin";
      src = debs.${name};
    };
  debs = builtins.mapAttrs fetchDeb pins;
  unpacked = builtins.mapAttrs unpackDeb pins;
  bb = "${unpacked.busybox-static}/bin/busybox";
in
{
  inherit pins debs unpacked;
  # Busybox with `bin/NAME` for each applet (links to the static binary).
  busybox = derivation {
    name = "busybox-${plainVersion pins.busybox-static.version}";
    inherit system;
    builder = bb;
    args = [
      "sh"
      "-ec"
      ''
        bb=${bb}
        $bb mkdir -p $out/bin
        $bb ln -s $bb $out/bin/busybox
        for a in $($bb --list); do
          [ "$a" = busybox ] || $bb ln -s busybox "$out/bin/$a"
        done
      ''
    ];
  };
}
