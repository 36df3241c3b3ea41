# The entry point of Kiln's OS layer (docs/design/os.md, "Entry point").
#
#   import <kiln/os> { configuration = ./host.nix; }
#   => { config; options; toplevel; optionsDoc; optionsJSON; }
#
# `configuration` is one module (a path, a function or an attribute set). The module list of
# ./modules/module-list.nix comes first, so the user's modules can set every option declared
# there. `pkgs` reaches every module as the `pkgs` argument; `specialArgs` are extra module
# arguments that are available in `imports` too (as in NixOS).
{ configuration
, system ? builtins.currentSystem
, pkgs ? import ../pkgs { inherit system; }
, specialArgs ? { }
}:
let
  # Relative, not `<kiln/lib>`: a flake's `nixosConfigurations` are evaluated in pure mode,
  # where search-path lookups are refused.
  lib = import ../lib;
  baseModules = import ./modules/module-list.nix;

  # Evaluates the base modules, the user's configuration and `extraModules` into one system.
  evalSystem = extraModules: lib.evalModules {
    modules = baseModules ++ [ configuration ] ++ extraModules ++ [
      {
        _file = toString ./default.nix;
        _module.args = { inherit pkgs; };
        nixpkgs.system = lib.mkDefault system;
      }
    ];
    specialArgs = {
      modulesPath = ./modules;
      # Used by modules/specialisation.nix: the same system with one more module, and no
      # specialisations of its own.
      kilnEvalChild = module: (evalSystem [
        module
        { _file = toString ./default.nix; specialisation = lib.mkForce { }; }
      ]).config.system.build.toplevel;
    } // specialArgs;
  };

  eval = evalSystem [ ];
  doc = import ./options-doc.nix { inherit lib; options = eval.options; };
in
{
  inherit (eval) config options;
  toplevel = eval.config.system.build.toplevel;
  # Every visible option: { loc; name; type; default?; defaultText?; description; declarations; }.
  optionsDoc = doc;
  # The same list as JSON text (what `kiln os options` prints).
  optionsJSON = builtins.toJSON doc;
}
