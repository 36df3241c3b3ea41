# `environment.etc`: the files of /etc. The toplevel's `etc` is one store tree (`system.build.etc`)
# whose entries are symlinks into the store; an entry with a `mode` other than `symlink` also
# has `NAME.mode`, `NAME.uid` and `NAME.gid` files beside it (NixOS's convention), and kiln-os
# copies it into /etc with that mode and owner (docs/design/os.md).
{ config, lib, options, pkgs, ... }:
with lib;
let
  entries = filter (e: e.enable) (attrValues config.environment.etc);
  storeName = import ../store-name.nix;

  # Pairs of entries where one's target is the other's or lies inside it (a file inside a
  # directory entry, which is a symlink into the store): the tree cannot hold both.
  clashes = concatMap (a: map (b: { inherit a b; })
    (filter (b: a.target != b.target && hasPrefix "${a.target}/" b.target) entries))
    entries;
  sameTarget = filter (t: length (filter (e: e.target == t) entries) > 1)
    (unique (map (e: e.target) entries));

  # The files whose definitions of `environment.etc` name the entry `name`.
  definingFiles = import ../defined-in.nix { inherit lib; } options.environment.etc;

  # Whether `target` names a path inside /etc: relative, with no empty, `.` or `..` component.
  escapes = target:
    target == "" || hasPrefix "/" target
    || any (c: c == "" || c == "." || c == "..") (splitString "/" target);

  entryScript = e: optionalString (dirOf e.target != ".") ''
    mkdir -p "$out/etc/"${escapeShellArg (dirOf e.target)}
  '' + ''
    ln -s ${escapeShellArg "${e.source}"} "$out/etc/"${escapeShellArg e.target}
  '' + optionalString (e.mode != "symlink") ''
    printf '%s\n' ${escapeShellArg e.mode} > "$out/etc/"${escapeShellArg "${e.target}.mode"}
    printf '%s\n' ${escapeShellArg e.user} > "$out/etc/"${escapeShellArg "${e.target}.uid"}
    printf '%s\n' ${escapeShellArg e.group} > "$out/etc/"${escapeShellArg "${e.target}.gid"}
  '';

  etcEntry = { name, config, ... }: {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Whether this file is generated.";
      };
      target = mkOption {
        type = types.str;
        default = name;
        defaultText = "the attribute name";
        description = "The path of the file, relative to /etc.";
      };
      text = mkOption {
        type = types.nullOr types.lines;
        default = null;
        description = "The contents of the file (instead of `source`).";
      };
      source = mkOption {
        type = types.path;
        description = "The file (or directory) the entry is made from.";
      };
      mode = mkOption {
        type = types.strMatching "symlink|[0-7]{3,4}";
        default = "symlink";
        example = "0600";
        description = ''
          `symlink` (the default): /etc/NAME is a symlink into the store. Otherwise an octal
          mode: the file is copied into /etc with that mode, owned by `user` and `group`.
        '';
      };
      uid = mkOption {
        type = types.int;
        default = 0;
        description = "The owner's uid of a copied file (when `user` is not set).";
      };
      gid = mkOption {
        type = types.int;
        default = 0;
        description = "The group's gid of a copied file (when `group` is not set).";
      };
      user = mkOption {
        type = types.str;
        default = "+${toString config.uid}";
        defaultText = "+\${toString uid}";
        description = "The owner of a copied file: a user name, or `+N` for uid N.";
      };
      group = mkOption {
        type = types.str;
        default = "+${toString config.gid}";
        defaultText = "+\${toString gid}";
        description = "The group of a copied file: a group name, or `+N` for gid N.";
      };
    };
    config = {
      source = mkIf (config.text != null) (mkDefault (pkgs.writeText
        (storeName "etc-${name}")
        config.text));
    };
  };
in
{
  options = {
    environment.etc = mkOption {
      type = types.attrsOf (types.submodule etcEntry);
      default = { };
      example = literalExample ''
        { "ssh/ssh_known_hosts".text = "…";
          "nix/machines".source = ./machines; }
      '';
      description = "The files of /etc, by their path relative to /etc.";
    };

    system.build.etc = mkOption {
      type = types.package;
      internal = true;
      readOnly = true;
      description = "The /etc tree (the toplevel's `etc` points at its `etc` directory).";
    };

    system.build.etcMetadata = mkOption {
      type = types.attrs;
      internal = true;
      readOnly = true;
      description = "Each /etc entry's mode and owner, as kiln-system.json lists them.";
    };
  };

  config = {
    assertions = mapAttrsToList (name: e: {
      assertion = !escapes e.target;
      message = "environment.etc.\"${name}\": the path \"${e.target}\" escapes /etc (it must be "
        + "relative, without empty, `.` or `..` components), defined in "
        + concatStringsSep ", " (definingFiles name);
    }) config.environment.etc
    ++ map (t: {
      assertion = false;
      message = "environment.etc: more than one entry has the path \"${t}\"";
    }) sameTarget
    ++ map (c: {
      assertion = false;
      message = "environment.etc.\"${c.b.target}\" lies inside the entry \"${c.a.target}\"; "
        + "put the file in that entry's source instead";
    }) clashes;

    system.build.etc = pkgs.runCommand "etc" { } (''
      mkdir -p "$out/etc"
    '' + concatMapStrings entryScript entries);

    system.build.etcMetadata = listToAttrs (map (e: nameValuePair e.target (
      if e.mode == "symlink" then { mode = "symlink"; }
      else { inherit (e) mode user group; }
    )) entries);
  };
}
