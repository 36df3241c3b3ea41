{ lib, ... }:
{
  options.users = lib.mkOption {
    type = lib.types.attrsOf (lib.types.submodule {
      options.uid = lib.mkOption { type = lib.types.int; };
    });
  };
}
