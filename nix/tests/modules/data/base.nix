{ lib, ... }:
{
  options.services.base = {
    enable = lib.mkEnableOption "the base service";
    tags = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  };
}
