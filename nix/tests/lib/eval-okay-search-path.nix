# `<kiln>` names the Nix code Kiln ships.
builtins.pathExists <kiln/tests/lib/eval-okay-search-path.nix>
