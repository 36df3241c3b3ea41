# Failing assertions: one error that lists every failed assertion's message.
(import ./os.nix ./configs/failing-assertions.nix).toplevel.drvPath
