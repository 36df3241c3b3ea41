{ lib, ... }:
{
  imports = [ ./unwanted-child.nix ];
  options.services.unwanted.enable = lib.mkEnableOption "something unwanted";
  config.services.base.tags = [ "unwanted" ];
}
