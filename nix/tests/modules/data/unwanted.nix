{ lib, ... }:
{
  options.services.unwanted.enable = lib.mkEnableOption "something unwanted";
  config.services.base.tags = [ "unwanted" ];
}
