# `time.timeZone`: /etc/timezone, and /etc/localtime when the package set has tzdata.
{ config, lib, pkgs, ... }:
with lib;
let
  tz = config.time.timeZone;
in
{
  options.time.timeZone = mkOption {
    type = types.nullOr (types.strMatching "[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*");
    default = null;
    example = "Europe/Amsterdam";
    description = "The time zone (a tz database name). Null means UTC.";
  };

  config = mkIf (tz != null) {
    environment.etc = {
      timezone.text = tz + "\n";
    } // optionalAttrs (pkgs ? tzdata) {
      localtime.source = "${pkgs.tzdata}/share/zoneinfo/${tz}";
    };
  };
}
