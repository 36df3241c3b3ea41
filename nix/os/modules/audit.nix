# `kiln-os-audit`, run in the booted system: what the next boot loses and what it lacks. On a
# system whose `/` is a tmpfs it lists, one per line,
#
#   ephemeral PATH   a file or link written on `/` since stage 2 finished (outside the declared
#                    state, the store and /run: gone at the next boot)
#   missing PATH     a declared state path (`state.*`) that is not under `state.root`
#
# and exits 0. (The guest has no kiln binary, so this is the shell form of `kiln os audit`.)
{ config, lib, pkgs, ... }:
with lib;
let
  st = config.state;
  entries = concatMap (c: st.${c}) [ "provisioning" "data" "cache" "telemetry" ];
  audit = pkgs.writeShellScript "kiln-os-audit" ''
    export PATH=${pkgs.busybox}/bin
    stamp=/run/kiln/boot-stamp
    if [ -e "$stamp" ]; then
      # -xdev: the root file system only (the store, the state root and its bind mounts, /run
      # and the API file systems are others).
      find / -xdev -newer "$stamp" \( -type f -o -type l \) 2>/dev/null | sort | sed 's/^/ephemeral /'
    else
      echo "kiln-os-audit: $stamp is missing (not booted by Kiln's stage 2)" >&2
    fi
    ${concatMapStrings (e: ''
      [ -e ${escapeShellArg "${st.root}${e.path}"} ] || echo ${escapeShellArg "missing ${e.path}"}
    '') entries}
    exit 0
  '';
  auditBin = pkgs.runCommand "kiln-os-audit" { } ''
    mkdir -p $out/bin
    ln -s ${audit} $out/bin/kiln-os-audit
  '';
in
{
  config = mkIf (config.fileSystems ? "/" && config.fileSystems."/".fsType == "tmpfs") {
    environment.systemPackages = [ auditBin ];
  };
}
