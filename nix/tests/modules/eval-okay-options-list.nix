# Kiln's option listing (for `kiln os options`): types, defaults, descriptions and the
# file:line of each declaration, submodule options under `<name>`.
# Kiln only (not compared with nixpkgs, which has no `lib.kiln`).
let
  lib = import <kiln/lib>;
  inherit (lib) mkOption types;
  r = lib.evalModules {
    modules = [
      {
        options.services.web = {
          enable = lib.mkEnableOption "the web server";
          port = mkOption { type = types.int; default = 80; description = "Port to listen on."; };
          root = mkOption { type = types.str; defaultText = lib.literalExpression "pkgs.site"; default = throw "no site"; description = "Document root."; };
          vhosts = mkOption {
            type = types.attrsOf (types.submodule { options.aliases = mkOption { type = types.listOf types.str; default = [ ]; description = "Aliases."; }; });
            default = { };
            description = "Virtual hosts.";
          };
        };
      }
    ];
  };
  visible = builtins.filter (o: o.visible && !o.internal) (lib.kiln.optionsList r.options);
  here = toString ./.;
in {
  list = map (o: o // { declarations = map (builtins.replaceStrings [ here ] [ "DIR" ]) o.declarations; }) visible;
  text = builtins.replaceStrings [ here ] [ "DIR" ] (lib.kiln.optionsText r.options);
  jsonIsList = builtins.isList (builtins.fromJSON (lib.kiln.optionsJSON r.options));
}
