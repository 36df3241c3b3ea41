{ config, ... }:
{
  services.base.enable = true;
  services.base.tags = [ "extra" ];
}
