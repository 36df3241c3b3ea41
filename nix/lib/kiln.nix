# Kiln's additions to `lib` (not in nixpkgs): the assertions/warnings module NixOS
# configurations expect, and the check that applies them.
{ lib }:
{
  # A module declaring `assertions` (`[ { assertion, message } ]`) and `warnings` (`[ str ]`).
  assertionsModule = ./assertions-module.nix;
  # `value` once every failed assertion of `config` has become one error and every warning
  # has been printed.
  checkAssertWarn = config: value:
    let failed = map (x: x.message) (builtins.filter (x: !x.assertion) config.assertions);
    in if failed != [ ] then
      throw "\nFailed assertions:\n${lib.strings.concatMapStrings (x: "- ${x}\n") failed}"
    else lib.trivial.showWarnings config.warnings value;
}
