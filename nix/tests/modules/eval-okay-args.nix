# _module.args and specialArgs reach module functions, with config, options and lib.
{ lib ? import <kiln/lib> }:
let
  r = lib.evalModules {
    specialArgs = { site = "example.org"; };
    modules = [
      ({ config, options, lib, site, ... }: {
        options.out = lib.mkOption { type = lib.types.str; };
        options.url = lib.mkOption { type = lib.types.str; default = "https://${site}/"; };
        config._module.args.greeting = "hello";
        config.out = "${config.url} ${toString (options ? url)}";
      })
      ({ greeting, pkgs, ... }: { options.msg = lib.mkOption { default = "${greeting} ${pkgs.name}"; }; })
      { _module.args.pkgs = { name = "pkgs"; }; }
    ];
  };
in { inherit (r.config) out url msg; }
