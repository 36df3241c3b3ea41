# `state.*`: Kiln's declared state, by category. A system whose `/` is a tmpfs keeps only what is
# declared here, under `state.root` (the VM issue makes it live); kiln-system.json's `state`
# lists it.
#
#   provisioning  what the machine was set up with (host keys, machine-id): keep forever
#   data          what the services produce (databases, uploads): back up
#   cache         what can be recomputed: may be dropped
#   telemetry     logs and metrics: kept for a while
{ config, lib, ... }:
with lib;
let
  cfg = config.state;
  categories = [ "provisioning" "data" "cache" "telemetry" ];

  entryModule = { config, ... }: {
    options = {
      path = mkOption {
        type = types.str;
        example = "/var/lib/postgresql";
        description = "The absolute path of the file or directory, in the running system.";
      };
      kind = mkOption {
        type = types.enum [ "file" "directory" ];
        default = "directory";
        description = "Whether the path is a file or a directory.";
      };
      user = mkOption {
        type = types.str;
        default = "root";
        description = "The owner.";
      };
      group = mkOption {
        type = types.str;
        default = "root";
        description = "The group.";
      };
      mode = mkOption {
        type = types.strMatching "[0-7]{3,4}";
        default = if config.kind == "directory" then "0755" else "0644";
        defaultText = "0755 for a directory, 0644 for a file";
        description = "The octal mode.";
      };
      policy = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "keep-7d";
        description = "A retention policy for the category's tooling; null means the category's default.";
      };
    };
  };

  entryType = types.coercedTo types.str (path: { inherit path; }) (types.submodule entryModule);

  render = e: {
    inherit (e) path kind user group mode;
  } // optionalAttrs (e.policy != null) { inherit (e) policy; };

  all = concatMap (c: map (e: { category = c; inherit (e) path; }) cfg.${c}) categories;

  category = c: mkOption {
    type = types.listOf entryType;
    default = [ ];
    example = literalExample ''[ "/var/lib/foo" { path = "/etc/machine-id"; kind = "file"; } ]'';
    description = ''
      The state of category `${c}`: entries `{ path; kind; user; group; mode; policy; }`, or
      plain paths (a directory owned by root).
    '';
  };

  bad = p: !(hasPrefix "/" p) || any (c: c == "." || c == "..") (splitString "/" p);
in
{
  options.state = {
    root = mkOption {
      type = types.str;
      default = "/persist";
      description = "Where the declared state is kept (a persistent file system).";
    };
    provisioning = category "provisioning";
    data = category "data";
    cache = category "cache";
    telemetry = category "telemetry";
  };

  options.system.build.stateJSON = mkOption {
    type = types.attrs;
    internal = true;
    readOnly = true;
    description = "kiln-system.json's `state`.";
  };

  config = {
    assertions = [
      {
        assertion = hasPrefix "/" cfg.root;
        message = "state.root: `${cfg.root}' is not an absolute path";
      }
    ] ++ map (e: {
      assertion = !bad e.path;
      message = "state.${e.category}: `${e.path}' is not an absolute path without `.` or `..`";
    }) all ++ map (p: {
      assertion = false;
      message = "state: `${p}' is declared more than once: in "
        + concatStringsSep ", " (map (e: "state.${e.category}") (filter (e: e.path == p) all));
    }) (filter (p: length (filter (e: e.path == p) all) > 1) (unique (map (e: e.path) all)));

    system.build.stateJSON = { inherit (cfg) root; }
      // genAttrs categories (c: map render cfg.${c});
  };
}
