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
        shell = "${stage0.busybox}/bin/sh";
        tools = stage0.busybox;
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

      # `debianSource NAME`: the upstream tarball (`*.orig.tar.*`) of Debian's source package
      # NAME, pinned in `sources.json` (by `nix/pkgs/update --add-source NAME`), with
      # `upstreamVersion`.
      debianSource =
        name:
        let
          pins = (builtins.fromJSON (builtins.readFile ./sources.json)).packages;
          pin =
            pins.${name}
              or (throw "no Debian source package '${name}' is pinned; run 'nix/pkgs/update --add-source ${name}'");
        in
        final.fetchurl {
          url = "mirror://debian/${pin.path}";
          inherit (pin) sha256;
        }
        // {
          inherit (pin) upstreamVersion;
          debianVersion = pin.version;
        };

      stdenv = import ./stdenv {
        inherit system;
        lib = support;
        busybox = stage0.busybox;
        inherit stage0;
        stage1 = final.bootstrap.stage1;
      };

      # The setup hook that points binary packages' ELF files at the store (see
      # build-support/auto-patchelf.sh).
      autoPatchelfHook = final.runCommand "auto-patchelf-hook" { } ''
        mkdir -p $out/nix-support
        cp ${./build-support/auto-patchelf.sh} $out/nix-support/setup-hook
      '';

      debianBinary = callPackage ./build-support/debian-binary.nix { lib = support; };

      # Every binary package pinned in binaries.json, by its Debian name, its pinned
      # dependencies as inputs.
      debianPackages = builtins.mapAttrs (name: _: final.debianBinary { pname = name; }) (
        builtins.removeAttrs
          ((builtins.fromJSON (builtins.readFile ./binaries.json)).${system} or { })
          [ ]
      );
      inherit (final.debianPackages) jq libjq1 systemd;
      linux = callPackage ./linux { };

      hello = callPackage ./hello { };
      zlib = callPackage ./zlib { };
      ncurses = callPackage ./ncurses { };
      less = callPackage ./less { };
      bash = callPackage ./bash { };
      coreutils = callPackage ./coreutils { };
      openssh = callPackage ./openssh { };
      git = callPackage ./git { };
      openssl = callPackage ./openssl { };
      htop = callPackage ./htop { };
      busybox = callPackage ./busybox { };
      # Debian's static busybox, the bootstrap's first tool (a link per applet): for places
      # with no libc, such as the initrd, and shells that need nothing compiled.
      busybox-static = stage0.busybox;

      # Build tools: perl (Debian's binary, fixed up), and GNU m4, autoconf, automake from
      # their sources for packages whose tarball has no `configure`.
      perl = callPackage ./perl { };
      m4 = callPackage ./m4 { };
      autoconf = callPackage ./autoconf { };
      automake = callPackage ./automake { };

      # The shell the trivial builders' scripts run with.
      runtimeShell = "${stage0.busybox}/bin/sh";

      bootstrap = {
        inherit stage0;
        stage1 = import ./bootstrap/stage1.nix {
          inherit system stage0;
          busybox = stage0.busybox;
        };
      };
    };

  pkgs = support.fix (
    builtins.foldl' (acc: overlay: support.extends overlay acc) base (overlays ++ [ userOverlay ])
  );
in
pkgs
