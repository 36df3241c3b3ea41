# examples/fleet: both hosts evaluate to a toplevel; the custom option is on for web only.
let
  hosts = import ../../../examples/fleet/hosts.nix;
  host = name: file:
    let os = import ./os.nix file; in {
      name = os.toplevel.name;
      drv = builtins.match "/nix/store/[0-9a-z]{32}-nixos-system-${name}-18.03.kiln.drv"
        os.toplevel.drvPath != null;
      motd = os.config.environment.etc.motd.text or null;
      units = os.config.system.build.kilnSystemJSON.units;
      ports = os.config.system.build.kilnSystemJSON.firewall.allowedTCPPorts;
      users = builtins.attrNames os.config.system.build.kilnSystemJSON.users;
      state = os.config.system.build.kilnSystemJSON.state;
      fstab = os.config.environment.etc.fstab.text;
      # The custom option is listed for `kiln os options`, declared in the fleet's module.
      motdOption = map (o: baseNameOf (builtins.head o.declarations))
        (builtins.filter (o: o.name == "fleet.motd.enable") os.optionsDoc);
    };
in
builtins.mapAttrs host hosts
