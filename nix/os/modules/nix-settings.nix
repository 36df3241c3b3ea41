# `nix.settings`: Kiln's configuration file, /etc/kiln/kiln.conf (nix.conf's syntax).
{ config, lib, ... }:
with lib;
let
  settingValue = types.either types.bool (types.either types.int
    (types.either types.str (types.listOf types.str)));
  render = v:
    if v == true then "true"
    else if v == false then "false"
    else if isList v then concatStringsSep " " v
    else toString v;
in
{
  options.nix.settings = mkOption {
    type = types.attrsOf settingValue;
    default = { };
    example = { max-jobs = 4; substituters = [ "https://cache.example.org" ]; };
    description = ''
      Settings of /etc/kiln/kiln.conf, one `name = value` line each: lists are joined with
      spaces, booleans are `true`/`false`.
    '';
  };

  config = {
    assertions = mapAttrsToList (n: _: {
      assertion = builtins.match "[A-Za-z0-9-]+" n != null;
      message = "nix.settings.\"${n}\": not a setting name (letters, digits and `-`)";
    }) config.nix.settings;

    environment.etc."kiln/kiln.conf".text = ''
      # Generated from the `nix.settings` option.
    '' + concatStrings (mapAttrsToList (n: v: "${n} = ${render v}\n") config.nix.settings);
  };
}
