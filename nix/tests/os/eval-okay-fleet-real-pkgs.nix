# examples/fleet with Kiln's own package set (nix/pkgs): both hosts evaluate to a toplevel
# derivation, with the real busybox, OpenSSH and kernel.
let
  pkgs = import <kiln/pkgs> { system = "x86_64-linux"; };
  hosts = import ../../../examples/fleet/hosts.nix;
  host = name: file:
    let
      os = import <kiln/os> { configuration = file; inherit pkgs; system = "x86_64-linux"; };
      json = os.config.system.build.kilnSystemJSON;
    in {
      drv = builtins.match "/nix/store/[0-9a-z]{32}-nixos-system-${name}-18.03.kiln.drv"
        os.toplevel.drvPath != null;
      # (Versions are the package set's business: only the packages' names are checked.)
      sshd = builtins.match ".*ExecStart=/nix/store/[0-9a-z]{32}-openssh-[^/]*/sbin/sshd.*"
        os.config.systemd.units."sshd.service".text != null;
      kernel = builtins.match "/nix/store/[0-9a-z]{32}-linux-[^/]*/bzImage" json.kernel != null;
    };
in
builtins.mapAttrs host hosts
