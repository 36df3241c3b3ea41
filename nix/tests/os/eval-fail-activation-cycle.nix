# Activation snippets whose dependencies form a cycle.
(import ./os.nix {
  system.activationScripts.a = { deps = [ "b" ]; text = "true"; };
  system.activationScripts.b = { deps = [ "a" ]; text = "true"; };
}).toplevel.drvPath
