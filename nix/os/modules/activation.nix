# `system.activationScripts`: shell snippets the toplevel's `activate` runs, each after the
# snippets named in its `deps`. Kiln's own steps (/etc, users, tmpfiles) are kiln-os's, not here.
{ config, lib, pkgs, ... }:
with lib;
let
  scriptModule = {
    options = {
      deps = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "The snippets that run before this one.";
      };
      text = mkOption {
        type = types.lines;
        description = "The snippet's shell commands.";
      };
    };
  };

  normalize = v: if isString v then { deps = [ ]; text = v; } else v;
  scripts = mapAttrs (_: normalize) config.system.activationScripts;

  # The snippet names in dependency order (a depth-first walk, names sorted), failing on an
  # unknown dependency or a cycle.
  ordered =
    let
      visit = path: acc: name:
        if elem name acc then acc
        else if elem name path then
          throw ("system.activationScripts: the dependencies form a cycle: "
            + concatStringsSep " -> " (path ++ [ name ]))
        else if !(scripts ? ${name}) then
          throw ("system.activationScripts.${last path}: depends on `${name}', "
            + "which is not an activation script")
        else
          foldl' (visit (path ++ [ name ])) acc scripts.${name}.deps ++ [ name ];
    in
    foldl' (visit [ ]) [ ] (attrNames scripts);

  snippet = name: ''
    # Activation script snippet ${name}:
    (
    set -e
    ${scripts.${name}.text}
    )
    if [ $? -ne 0 ]; then
      echo "activation script snippet '${name}' failed" >&2
      _status=1
    fi
  '';
in
{
  options.system.activationScripts = mkOption {
    type = types.attrsOf (types.either types.str (types.submodule scriptModule));
    default = { };
    example = literalExample ''
      { stdio = { deps = [ ]; text = "mkdir -p /var/log"; }; }
    '';
    description = ''
      Shell snippets run at every activation, as root, in the new system's root. A string is a
      snippet without dependencies. Each snippet runs in its own subshell with `set -e`; a
      failing one is reported and the others still run, and `activate` then exits with status 1.
    '';
  };

  options.system.build.activate = mkOption {
    type = types.package;
    internal = true;
    readOnly = true;
    description = "The activation script (the toplevel's `activate`).";
  };

  options.system.build.activationOrder = mkOption {
    type = types.listOf types.str;
    internal = true;
    readOnly = true;
    description = "The activation snippets' names, in the order `activate` runs them.";
  };

  config = {
    system.build.activationOrder = ordered;
    system.build.activate = pkgs.writeShellScript "activate" (''
      # The activation script of a Kiln system: `system.activationScripts`, in order.
      export PATH=${config.system.path}/bin:${pkgs.busybox}/bin:$PATH
      set +e
      _status=0
    '' + concatMapStrings snippet ordered + ''
      exit $_status
    '');
  };
}
