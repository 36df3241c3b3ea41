# The trivial builders: derivations whose builder is a shell script run by `shell` (the
# bootstrap's busybox `sh` until the package set has a stdenv), with `PATH` holding `tools`'
# `bin` and those of `nativeBuildInputs`/`buildInputs`. Nothing comes from the host.
#
# Every builder takes `meta` and `passthru` (kept on the result, not passed to the builder)
# and returns a derivation with `overrideAttrs` (`old: { … }` or `final: prev: { … }`).
{
  lib,
  system,
  shell,
  tools,
}:

let
  inherit (builtins)
    concatStringsSep
    isFunction
    map
    removeAttrs
    ;

  binPath = ps: concatStringsSep ":" (map (p: "${p}/bin") ps);

  # A derivation from `attrs`: `buildCommand` runs under `set -e` in an empty build
  # directory, `$out` (and the other outputs) given.
  mkTrivial =
    attrs:
    let
      inputs = (attrs.nativeBuildInputs or [ ]) ++ (attrs.buildInputs or [ ]);
      drv = derivation (
        removeAttrs attrs [
          "meta"
          "passthru"
        ]
        // {
          inherit system;
          builder = shell;
          args = [
            "-e"
            ./trivial-builder.sh
          ];
          PATH = binPath (inputs ++ [ tools ]);
          passAsFile = [ "buildCommand" ] ++ (attrs.passAsFile or [ ]);
        }
      );
    in
    drv
    // (attrs.passthru or { })
    // {
      meta = attrs.meta or { };
      overrideAttrs =
        f:
        let
          r = f attrs;
        in
        mkTrivial (if isFunction r then lib.fix (final: attrs // f final attrs) else attrs // r);
    };

  # `runCommand name env script`: `script` run with the attributes `env` in the builder's
  # environment (`nativeBuildInputs`/`buildInputs` put on `PATH`).
  runCommand =
    name: env: script:
    mkTrivial (env // { inherit name; buildCommand = script; });

  # `writeTextFile { name, text, executable ? false, destination ? "", checkPhase ? "" }`:
  # `text` at `$out` (or `$out/DESTINATION`, which must start with "/"), made executable if
  # asked, then `checkPhase` run.
  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      checkPhase ? "",
      meta ? { },
      passthru ? { },
      allowSubstitutes ? false,
      preferLocalBuild ? true,
    }:
    if destination != "" && builtins.substring 0 1 destination != "/" then
      throw "writeTextFile '${name}': destination '${destination}' must be empty or start with '/'"
    else
      mkTrivial {
        inherit
          name
          text
          destination
          meta
          passthru
          allowSubstitutes
          preferLocalBuild
          ;
        executable = if executable then "1" else "";
        passAsFile = [ "text" ];
        buildCommand = ''
          target="$out$destination"
          mkdir -p "$(dirname "$target")"
          cat "$textPath" > "$target"
          if [ -n "$executable" ]; then chmod +x "$target"; fi
          ${checkPhase}
        '';
      };

  writeText = name: text: writeTextFile { inherit name text; };

  writeScript =
    name: text:
    writeTextFile {
      inherit name text;
      executable = true;
    };

  writeScriptBin =
    name: text:
    writeTextFile {
      inherit name text;
      executable = true;
      destination = "/bin/${name}";
    };

  # Scripts for `shell`, checked with `shell -n`.
  writeShellScript =
    name: text:
    writeTextFile {
      inherit name;
      executable = true;
      text = "#!${shell}\n${text}";
      checkPhase = ''${shell} -n "$target"'';
    };

  writeShellScriptBin =
    name: text:
    writeTextFile {
      inherit name;
      executable = true;
      destination = "/bin/${name}";
      text = "#!${shell}\n${text}";
      checkPhase = ''${shell} -n "$target"'';
    };

  # `symlinkJoin { name, paths, postBuild ? "" }`: one tree of directories holding links to
  # every file of `paths`; when two paths have the same file, the earlier one's wins.
  symlinkJoin =
    args@{
      name,
      paths,
      postBuild ? "",
      ...
    }:
    mkTrivial (
      removeAttrs args [ "postBuild" ]
      // {
        inherit paths;
        buildCommand = ''
          mkdir -p "$out"
          for p in $paths; do
            merge "$p" "$out" first
          done
          ${postBuild}
        '';
      }
    );

  # `buildEnv { name, paths, pathsToLink ? [ "/" ], ignoreCollisions ? false,
  # extraOutputsToInstall ? [ ], extraPrefix ? "", postBuild ? "" }`: the union of `paths`
  # (and of the packages their `nix-support/propagated-user-env-packages` name) as links under
  # `$out$extraPrefix`, only below `pathsToLink`. Two different files at one place are an
  # error naming both, unless `ignoreCollisions` (then the earlier wins).
  buildEnv =
    {
      name,
      paths,
      pathsToLink ? [ "/" ],
      ignoreCollisions ? false,
      extraOutputsToInstall ? [ ],
      extraPrefix ? "",
      postBuild ? "",
      meta ? { },
      passthru ? { },
      ...
    }:
    let
      outputsOf =
        p:
        [ p ]
        ++ builtins.concatMap (o: if builtins.isAttrs p && p ? ${o} then [ p.${o} ] else [ ]) extraOutputsToInstall;
    in
    mkTrivial {
      inherit name meta passthru extraPrefix;
      paths = builtins.concatMap outputsOf paths;
      inherit pathsToLink;
      collisions = if ignoreCollisions then "first" else "fail";
      buildCommand = ''
        mkdir -p "$out$extraPrefix"
        todo="$paths"
        done=" "
        while [ -n "$todo" ]; do
          set -- $todo
          p=$1; shift; todo="$*"
          case "$done" in *" $p "*) continue ;; esac
          done="$done$p "
          for l in $pathsToLink; do
            [ "$l" = / ] && l=
            if [ -d "$p$l" ]; then
              mkdir -p "$out$extraPrefix$l"
              merge "$p$l" "$out$extraPrefix$l" "$collisions"
            fi
          done
          f="$p/nix-support/propagated-user-env-packages"
          if [ -f "$f" ]; then todo="$todo $(cat "$f")"; fi
        done
        rm -rf "$out$extraPrefix/nix-support"
        ${postBuild}
      '';
    };
in
{
  inherit
    mkTrivial
    runCommand
    writeTextFile
    writeText
    writeScript
    writeScriptBin
    writeShellScript
    writeShellScriptBin
    symlinkJoin
    buildEnv
    ;
}
