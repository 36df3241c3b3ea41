# Kiln's package set: `import <kiln/pkgs> { }` (or `kiln build -f nix/pkgs -A NAME`).
#
# Arguments, as nixpkgs takes them:
# * `system`: the platform packages are built for (default: the evaluating machine's).
# * `config`: user settings (`pkgs.config`; `config.packageOverrides = pkgs: { … }` is applied
#   like an overlay, after the `overlays`).
# * `overlays`: functions `final: prev: { … }` applied in order over the set.
#
# Sources come from Debian's archive only, as `mirror://debian/…` fixed-output fetches; the
# bootstrap (`bootstrap.stage0` …) starts from pinned Debian binary packages
# (`bootstrap/pins.json`). No host is written here: the `mirrors` setting says where
# `mirror://debian` is (by default the machine's apt mirror).
{
  system ? builtins.currentSystem,
  config ? { },
  overlays ? [ ],
}:

let
  support = import ./support.nix;
  lib = if builtins.pathExists ../lib/default.nix then import ../lib else support;

  configValue = if builtins.isFunction config then config { inherit pkgs; } else config;

  userOverlay =
    final: prev:
    if configValue ? packageOverrides then configValue.packageOverrides prev else { };

  base =
    final:
    let
      callPackage = support.callPackageWith final;
      stage0 = import ./bootstrap/stage0.nix {
        inherit system;
        lib = support;
        fetchurl = final.fetchurl;
      };
      trivial = import ./build-support/trivial-builders.nix {
        inherit system;
        lib = support;
        shell = "${final.busybox}/bin/sh";
        tools = final.busybox;
      };
    in
    trivial
    // {
      inherit lib system callPackage;
      config = configValue;
      pkgs = final;

      # `callPackages`-style access for code that wants the set's own helpers.
      newScope = extra: support.callPackageWith (final // extra);

      fetchurl = support.makeOverridable (import ./build-support/fetchurl.nix { lib = support; });

      # The shell the trivial builders' scripts run with.
      runtimeShell = "${final.busybox}/bin/sh";

      bootstrap = {
        inherit stage0;
      };

      # Until busybox is built from its source, the bootstrap's static one.
      busybox = stage0.busybox;
    };

  pkgs = support.fix (
    builtins.foldl' (acc: overlay: support.extends overlay acc) base (overlays ++ [ userOverlay ])
  );
in
pkgs
