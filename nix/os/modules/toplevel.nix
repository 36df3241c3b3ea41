# `system.build.toplevel`: the system as one store path, in NixOS's layout (docs/design/os.md):
# activate, init, etc, sw, kernel, initrd, kernel-params, nixos-version, system, boot.json,
# specialisation/, kiln-system.json. Evaluating it checks `assertions` (all failures in one
# error) and prints `warnings`.
{ config, lib, pkgs, ... }:
with lib;
let
  build = config.system.build;
  version = config.system.nixos.version;
  hostName = config.networking.hostName;
  kernel = build.kernelPath;
  initrd = build.initrdPath;
  out = builtins.placeholder "out";

  # kiln-system.json, version 1: what kiln-os needs to activate the system.
  systemJSON = {
    version = 1;
    inherit hostName;
    inherit (config.system) stateVersion;
    inherit (build.usersJSON) users groups mutableUsers;
    tmpfiles = config.systemd.tmpfiles.rules;
    etc = build.etcMetadata;
    units = attrNames config.systemd.units;
    inherit kernel initrd;
    kernelParams = config.boot.kernelParams;
    state = build.stateJSON;
    firewall = {
      inherit (config.networking.firewall) enable;
      allowedTCPPorts = sort lessThan (unique config.networking.firewall.allowedTCPPorts);
      allowedUDPPorts = sort lessThan (unique config.networking.firewall.allowedUDPPorts);
    };
  };

  # Bootspec v1; `toplevel` and `init` name the toplevel itself (its output placeholder).
  bootJSON = {
    "org.nixos.bootspec.v1" = {
      init = "${out}/init";
      inherit kernel initrd;
      kernelParams = config.boot.kernelParams;
      label = "NixOS ${version}";
      system = config.nixpkgs.system;
      toplevel = out;
    };
  };

  specialisations = build.specialisations;

  toplevel = pkgs.runCommand "nixos-system-${hostName}-${version}" {
    bootJson = builtins.toJSON bootJSON;
    kernelParams = concatStringsSep " " config.boot.kernelParams;
    nixosVersion = version;
    systemName = config.nixpkgs.system;
  } (''
    mkdir -p "$out"
    ln -s ${build.activate} "$out/activate"
    ln -s ${build.etc}/etc "$out/etc"
    ln -s ${config.system.path} "$out/sw"
    ln -s ${pkgs.writeText "kiln-system.json" (builtins.toJSON systemJSON)} "$out/kiln-system.json"
    printf '%s' "$bootJson" > "$out/boot.json"
    printf '%s' "$kernelParams" > "$out/kernel-params"
    printf '%s' "$nixosVersion" > "$out/nixos-version"
    printf '%s' "$systemName" > "$out/system"
    cat > "$out/init" <<EOF
    #!${pkgs.busybox}/bin/sh
    # Stage 2 of a Kiln system: activate, restore the declared state, then hand over to systemd.
    exec ${build.bootStage2} $out "\$@"
    EOF
    chmod 0755 "$out/init"
  '' + optionalString (kernel != null) ''
    ln -s ${kernel} "$out/kernel"
  '' + optionalString (initrd != null) ''
    ln -s ${initrd} "$out/initrd"
  '' + optionalString (specialisations != { }) (''
    mkdir "$out/specialisation"
  '' + concatStrings (mapAttrsToList (n: s: ''
    ln -s ${s} "$out/specialisation/${n}"
  '') specialisations)));

  failed = map (a: a.message) (filter (a: !a.assertion) config.assertions);

  warn = builtins.warn or (msg: builtins.trace "warning: ${msg}");

  checked =
    if failed != [ ] then
      throw "\nFailed assertions:\n${concatMapStringsSep "\n" (m: "- ${m}") failed}"
    else
      foldr warn toplevel config.warnings;
in
{
  options.system.build.toplevel = mkOption {
    type = types.package;
    readOnly = true;
    description = "The system: one store path with NixOS's layout.";
  };

  options.system.build.kilnSystemJSON = mkOption {
    type = types.attrs;
    internal = true;
    readOnly = true;
    description = "The value written to the toplevel's kiln-system.json.";
  };

  config.system.build = {
    toplevel = checked;
    kilnSystemJSON = systemJSON;
  };
}
