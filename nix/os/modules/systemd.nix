# `systemd.services`, `systemd.targets`, `systemd.tmpfiles.rules`. Each unit is rendered to its
# unit file text (`systemd.units.<unit>.text`); the files and the `<target>.wants/<unit>` links
# of `wantedBy` make the /etc entry `systemd/system`.
{ config, lib, pkgs, ... }:
with lib;
let
  cfg = config.systemd;
  storeName = import ../store-name.nix;

  unitValue = types.either types.bool (types.either types.int
    (types.either types.str (types.listOf (types.either types.int types.str))));

  # `Key=value` lines of a section, keys sorted; a list gives one line per element.
  renderSection = attrs: concatStrings (mapAttrsToList (k: v:
    concatMapStrings (x: "${k}=${renderValue x}\n") (if isList v then v else [ v ]))
    attrs);
  renderValue = v:
    if v == true then "true"
    else if v == false then "false"
    else toString v;

  commonOptions = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = "Whether the unit file is generated.";
    };
    description = mkOption {
      type = types.str;
      default = "";
      description = "The unit's `Description=`.";
    };
    wantedBy = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "multi-user.target" ];
      description = "Units that want this one: a `<unit>.wants/` link each.";
    };
    requiredBy = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Units that require this one: a `<unit>.requires/` link each.";
    };
    after = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "The unit's `After=`.";
    };
    before = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "The unit's `Before=`.";
    };
    requires = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "The unit's `Requires=`.";
    };
    wants = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "The unit's `Wants=`.";
    };
    unitConfig = mkOption {
      type = types.attrsOf unitValue;
      default = { };
      example = { ConditionPathExists = "/etc/foo"; };
      description = "More entries of the `[Unit]` section.";
    };
  };

  unitSection = u:
    renderSection (filterAttrs (_: v: v != [ ] && v != "") {
      Description = u.description;
      After = concatStringsSep " " u.after;
      Before = concatStringsSep " " u.before;
      Requires = concatStringsSep " " u.requires;
      Wants = concatStringsSep " " u.wants;
    } // u.unitConfig);

  installSection = u:
    optionalString (u.wantedBy != [ ] || u.requiredBy != [ ]) (''

      [Install]
    '' + renderSection (filterAttrs (_: v: v != "") {
      WantedBy = concatStringsSep " " u.wantedBy;
      RequiredBy = concatStringsSep " " u.requiredBy;
    }));

  makeScript = name: text: pkgs.writeShellScript (storeName name) ''
    set -e
    ${text}
  '';

  serviceModule = { name, config, ... }: {
    options = commonOptions // {
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.either types.str types.package));
        default = { };
        example = { TZ = "CET"; };
        description = "The service's environment variables (`Environment=` lines).";
      };
      path = mkOption {
        type = types.listOf (types.either types.package types.str);
        default = [ ];
        description = ''
          Packages whose `bin` and `sbin` directories make the service's `PATH` (busybox is
          always added last).
        '';
      };
      script = mkOption {
        type = types.lines;
        default = "";
        description = "Shell commands run as the service's `ExecStart=`.";
      };
      preStart = mkOption {
        type = types.lines;
        default = "";
        description = "Shell commands run before the service starts (`ExecStartPre=`).";
      };
      postStart = mkOption {
        type = types.lines;
        default = "";
        description = "Shell commands run after the service has started (`ExecStartPost=`).";
      };
      startAt = mkOption {
        type = types.either types.str (types.listOf types.str);
        default = [ ];
        example = "*-*-* 03:00:00";
        description = ''
          When to start the service (systemd.time(7) calendar events): a timer unit of the
          same name with these `OnCalendar=` values, wanted by `timers.target`.
        '';
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether a switch restarts the service when its unit changes (false writes
          `X-RestartIfChanged=false`: it is left running, as NixOS does).
        '';
      };
      reloadIfChanged = mkOption {
        type = types.bool;
        default = false;
        description = "Whether a switch reloads instead of restarting it (`X-ReloadIfChanged=true`).";
      };
      stopIfChanged = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether a restart on switch is a stop of the old unit then a start of the new one
          (false writes `X-StopIfChanged=false`: one restart of the new unit).
        '';
      };
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
        description = ''
          Values (e.g. configuration files) whose change restarts the service on switch: they
          go into the unit as `X-Restart-Triggers=`.
        '';
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitValue;
        default = { };
        example = { Type = "oneshot"; RemainAfterExit = true; };
        description = "The entries of the `[Service]` section.";
      };
    };
    config = {
      path = mkAfter [ pkgs.busybox ];
      environment.PATH = concatStringsSep ":"
        (map (p: "${p}/bin") config.path ++ map (p: "${p}/sbin") config.path);
      serviceConfig = mkMerge [
        (mkIf (config.script != "") {
          ExecStart = "${makeScript "unit-script-${name}-start" config.script}";
        })
        (mkIf (config.preStart != "") {
          ExecStartPre = "${makeScript "unit-script-${name}-pre-start" config.preStart}";
        })
        (mkIf (config.postStart != "") {
          ExecStartPost = "${makeScript "unit-script-${name}-post-start" config.postStart}";
        })
      ];
    };
  };

  serviceText = s: ''
    [Unit]
    ${unitSection (s // optionalAttrs (s.restartTriggers != [ ]) {
      unitConfig = s.unitConfig // { X-Restart-Triggers = toString s.restartTriggers; };
    })}
    [Service]
    ${concatStrings (mapAttrsToList (n: v: "Environment=${builtins.toJSON "${n}=${v}"}\n")
      (filterAttrs (_: v: v != null) s.environment))}''
    + (if s.reloadIfChanged then "X-ReloadIfChanged=true\n"
       else if !s.restartIfChanged then "X-RestartIfChanged=false\n"
       else "")
    + optionalString (!s.stopIfChanged) "X-StopIfChanged=false\n"
    + renderSection s.serviceConfig
    + installSection s;

  timerText = t: ''
    [Unit]
    ${unitSection t}
    [Timer]
    ${renderSection t.timerConfig}'' + installSection t;

  targetText = t: ''
    [Unit]
    ${unitSection t}'' + installSection t;

  unitEntry = text: u: { inherit text; inherit (u) wantedBy requiredBy; };

  # The unit files and their `.wants`/`.requires` links.
  unitsTree = pkgs.runCommand "system-units" { } (''
    mkdir -p "$out"
  '' + concatStrings (mapAttrsToList (name: u: ''
    ln -s ${pkgs.writeText (storeName name) u.text} "$out/"${escapeShellArg name}
  '' + concatMapStrings (t: ''
    mkdir -p "$out/"${escapeShellArg "${t}.wants"}
    ln -sfn ../${escapeShellArg name} "$out/"${escapeShellArg "${t}.wants/${name}"}
  '') u.wantedBy + concatMapStrings (t: ''
    mkdir -p "$out/"${escapeShellArg "${t}.requires"}
    ln -sfn ../${escapeShellArg name} "$out/"${escapeShellArg "${t}.requires/${name}"}
  '') u.requiredBy) cfg.units));
in
{
  options.systemd = {
    services = mkOption {
      type = types.attrsOf (types.submodule serviceModule);
      default = { };
      description = "The system's services, by name without `.service`.";
    };

    timers = mkOption {
      type = types.attrsOf (types.submodule {
        options = commonOptions // {
          timerConfig = mkOption {
            type = types.attrsOf unitValue;
            default = { };
            example = { OnCalendar = "daily"; Persistent = true; };
            description = "The entries of the `[Timer]` section.";
          };
        };
      });
      default = { };
      description = "The system's timers, by name without `.timer`.";
    };

    targets = mkOption {
      type = types.attrsOf (types.submodule { options = commonOptions; });
      default = { };
      description = "The system's targets, by name without `.target`.";
    };

    units = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          text = mkOption {
            type = types.str;
            description = "The unit file's text.";
          };
          wantedBy = mkOption {
            type = types.listOf types.str;
            default = [ ];
            description = "Units that want this one.";
          };
          requiredBy = mkOption {
            type = types.listOf types.str;
            default = [ ];
            description = "Units that require this one.";
          };
        };
      });
      default = { };
      description = ''
        Every unit file of `/etc/systemd/system`, by its file name (e.g. `sshd.service`):
        the services and targets, rendered, plus any unit given here directly.
      '';
    };

    tmpfiles.rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "d /var/lib/foo 0755 root root -" ];
      description = ''
        tmpfiles.d(5) lines: files and directories created (or cleaned) at activation and
        boot. Written to /etc/tmpfiles.d/00-kiln.conf and to kiln-system.json.
      '';
    };
  };

  config = {
    # systemd's own multi-user.target (the default target), so `wantedBy` has a unit to name.
    systemd.targets.multi-user = {
      description = "Multi-User System";
      requires = [ "basic.target" ];
      after = [ "basic.target" "rescue.service" "rescue.target" ];
      unitConfig = {
        Conflicts = "rescue.service rescue.target";
        AllowIsolate = true;
      };
    };

    systemd.units =
      mapAttrs' (n: s: nameValuePair "${n}.service" (unitEntry (serviceText s) s))
        (filterAttrs (_: s: s.enable) cfg.services)
      // mapAttrs' (n: t: nameValuePair "${n}.timer" (unitEntry (timerText t) t))
        (filterAttrs (_: t: t.enable) cfg.timers)
      // mapAttrs' (n: t: nameValuePair "${n}.target" (unitEntry (targetText t) t))
        (filterAttrs (_: t: t.enable) cfg.targets);

    systemd.timers = mapAttrs (_: s: {
      wantedBy = [ "timers.target" ];
      timerConfig.OnCalendar = s.startAt;
    }) (filterAttrs (_: s: s.enable && s.startAt != [ ]) cfg.services);

    assertions = mapAttrsToList (name: _: {
      assertion = builtins.match "[A-Za-z0-9:_.@-]+[.][a-z]+" name != null;
      message = "systemd: `${name}' is not a unit name (letters, digits, `:_.@-`, then a "
        + "suffix such as .service)";
    }) cfg.units
    ++ concatLists (mapAttrsToList (name: u: map (t: {
      assertion = builtins.match "[A-Za-z0-9:_.@-]+[.][a-z]+" t != null;
      message = "systemd.units.\"${name}\": wantedBy/requiredBy names `${t}', which is not a unit name";
    }) (u.wantedBy ++ u.requiredBy)) cfg.units);

    environment.etc."systemd/system".source = unitsTree;
    environment.etc."tmpfiles.d/00-kiln.conf".text = concatMapStrings (r: r + "\n") cfg.tmpfiles.rules;
  };
}
