# `nixpkgs.system`: the platform the system is built for (the toplevel's `system` file).
{ lib, ... }:
with lib;
{
  options.nixpkgs.system = mkOption {
    type = types.str;
    example = "x86_64-linux";
    description = ''
      The platform of the system, e.g. `x86_64-linux`. Defaults to the `system` argument of
      the entry point (`builtins.currentSystem` when not given).
    '';
  };
}
