# `users.users`, `users.groups`, `users.mutableUsers`. Nix renders no /etc/passwd, group or
# shadow: the desired users and groups go into kiln-system.json, and kiln-os allocates the ids
# left unset and writes the databases at activation (docs/design/os.md).
{ config, lib, options, pkgs, ... }:
with lib;
let
  cfg = config.users;

  # A uid or gid: 0 to 2^32 - 2 (2^32 - 1 is (uid_t) -1, "no id").
  idType = types.ints.between 0 4294967294;

  userModule = { name, config, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = name;
        defaultText = "the attribute name";
        description = "The user's login name.";
      };
      uid = mkOption {
        type = types.nullOr idType;
        default = null;
        description = ''
          The user's id. When null, kiln-os allocates one at activation (system users from 999
          down, normal users from 1000 up) and keeps it across generations.
        '';
      };
      isNormalUser = mkOption {
        type = types.bool;
        default = false;
        description = ''
          A real user: group `users`, a home directory under /home that is created, and the
          default login shell.
        '';
      };
      isSystemUser = mkOption {
        type = types.bool;
        default = false;
        description = "A user for a service: its uid is allocated below 1000.";
      };
      description = mkOption {
        type = types.str;
        default = "";
        example = "Alice Q. User";
        description = "The user's full name (the GECOS field).";
      };
      group = mkOption {
        type = types.str;
        default = "nogroup";
        description = "The user's primary group.";
      };
      extraGroups = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "wheel" ];
        description = "The user's other groups.";
      };
      home = mkOption {
        type = types.str;
        default = "/var/empty";
        description = "The user's home directory.";
      };
      createHome = mkOption {
        type = types.bool;
        default = false;
        description = "Whether the home directory is created (owned by the user) at activation.";
      };
      shell = mkOption {
        type = types.either types.package types.str;
        default = "/run/current-system/sw/bin/nologin";
        example = "/run/current-system/sw/bin/sh";
        description = ''
          The login shell: a path, or a package (its `shellPath`, by default `/bin/sh`).
        '';
      };
      hashedPassword = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = ''
          The password hash (crypt(3) format, e.g. from `mkpasswd -m sha-512`). Null: no
          password is set (with `users.mutableUsers`, the current one is kept).
        '';
      };
      openssh.authorizedKeys.keys = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Public keys that may log in as this user over SSH.";
      };
    };
    config = mkIf config.isNormalUser {
      group = mkDefault "users";
      home = mkDefault "/home/${config.name}";
      createHome = mkDefault true;
      shell = mkDefault cfg.defaultUserShell;
    };
  };

  groupModule = { name, ... }: {
    options = {
      name = mkOption {
        type = types.str;
        default = name;
        defaultText = "the attribute name";
        description = "The group's name.";
      };
      gid = mkOption {
        type = types.nullOr idType;
        default = null;
        description = "The group's id. When null, kiln-os allocates one at activation.";
      };
      members = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "Users in this group, besides those that list it in `extraGroups`.";
      };
    };
  };

  shellPath = s:
    if isDerivation s then "${s}${s.shellPath or "/bin/sh"}" else s;

  definedIn = import ../defined-in.nix { inherit lib; };
  # " (alice in FILE, bob in FILE)": where the named users or groups are defined.
  where = opt: names: " (" + concatMapStringsSep "; " (n:
    let files = definedIn opt n; in
    if files == [ ] then "${n}: built in" else "${n} in ${concatStringsSep ", " files}")
    names + ")";

  users = attrValues cfg.users;
  groups = attrValues cfg.groups;

  # The values that occur more than once in `list`, each with the names having it.
  duplicates = idOf: list:
    let
      withId = filter (x: idOf x != null) list;
      ids = unique (map idOf withId);
      namesOf = id: map (x: x.name) (filter (x: idOf x == id) withId);
    in
    filter (d: length d.names > 1) (map (id: { inherit id; names = namesOf id; }) ids);
in
{
  options.users = {
    users = mkOption {
      type = types.attrsOf (types.submodule userModule);
      default = { };
      example = literalExample ''
        { alice = { isNormalUser = true; extraGroups = [ "wheel" ]; }; }
      '';
      description = "The users of the system, by login name.";
    };

    groups = mkOption {
      type = types.attrsOf (types.submodule groupModule);
      default = { };
      example = literalExample "{ students.gid = 1001; }";
      description = "The groups of the system, by name.";
    };

    mutableUsers = mkOption {
      type = types.bool;
      default = true;
      description = ''
        When true, users and groups may also be changed outside the configuration (useradd,
        passwd), and activation only adds and updates the declared ones. When false, the user
        database is exactly the declared one.
      '';
    };

    defaultUserShell = mkOption {
      type = types.either types.package types.str;
      default = "/run/current-system/sw/bin/sh";
      description = "The login shell of normal users.";
    };
  };

  options.system.build.usersJSON = mkOption {
    type = types.attrs;
    internal = true;
    readOnly = true;
    description = "The users, groups and mutableUsers entries of kiln-system.json.";
  };

  config = {
    # The users and groups NixOS always has, with NixOS's ids.
    users.users = {
      root = {
        uid = 0;
        description = "System administrator";
        home = "/root";
        shell = mkDefault cfg.defaultUserShell;
        group = "root";
      };
      nobody = {
        uid = 65534;
        description = "Unprivileged account (don't use!)";
        group = "nogroup";
      };
    };
    users.groups = {
      root.gid = 0;
      wheel.gid = 1;
      users.gid = 100;
      nogroup.gid = 65534;
    };

    assertions =
      [
        {
          # With an immutable user database, a configuration without a way in locks the
          # administrator out.
          assertion = cfg.mutableUsers || any (u:
            (u.name == "root" || elem "wheel" u.extraGroups)
            && (u.hashedPassword != null || u.openssh.authorizedKeys.keys != [ ])) users;
          message = "users.mutableUsers is false, but neither root nor any user in wheel has a "
            + "hashedPassword or an SSH key: nobody could log in as administrator";
        }
      ]
      ++ map (d: {
        assertion = false;
        message = "users.users: uid ${toString d.id} is used by more than one user: "
          + concatStringsSep ", " d.names + where options.users.users d.names;
      }) (duplicates (u: u.uid) users)
      ++ map (d: {
        assertion = false;
        message = "users.groups: gid ${toString d.id} is used by more than one group: "
          + concatStringsSep ", " d.names + where options.users.groups d.names;
      }) (duplicates (g: g.gid) groups)
      ++ concatMap (u: [
        {
          assertion = !(u.isNormalUser && u.isSystemUser);
          message = "users.users.${u.name}: isNormalUser and isSystemUser are both set";
        }
        {
          assertion = cfg.groups ? ${u.group};
          message = "users.users.${u.name}.group: the group `${u.group}' is not in users.groups";
        }
      ] ++ map (g: {
        assertion = cfg.groups ? ${g};
        message = "users.users.${u.name}.extraGroups: the group `${g}' is not in users.groups";
      }) u.extraGroups) users
      ++ concatMap (g: map (m: {
        assertion = cfg.users ? ${m};
        message = "users.groups.${g.name}.members: the user `${m}' is not in users.users";
      }) g.members) groups;

    system.build.usersJSON = {
      users = listToAttrs (map (u: nameValuePair u.name {
        inherit (u) uid group extraGroups description home createHome isSystemUser
          hashedPassword;
        shell = shellPath u.shell;
        authorizedKeys = u.openssh.authorizedKeys.keys;
      }) users);
      groups = listToAttrs (map (g: nameValuePair g.name {
        inherit (g) gid;
        members = sort lessThan (unique (g.members
          ++ map (u: u.name) (filter (u: elem g.name u.extraGroups) users)));
      }) groups);
      inherit (cfg) mutableUsers;
    };
  };
}
