# kiln-system.json (docs/design/os.md, version 1) for a small server, as the text written.
let os = import ./os.nix ./configs/web.nix; in
builtins.toJSON os.config.system.build.kilnSystemJSON
