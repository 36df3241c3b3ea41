# A stand-in for <kiln/os> (the same as crates/cli/tests/cli/os.rs's): its toplevel is built by
# busybox, laid out as docs/design/os.md says. bench/run os uses it until the example host of
# nix/os is there (OS_CONFIG=FILE OS_KILN=DIR bench/run os to time another).
{ configuration, ... }:
let
  cfg = if builtins.isAttrs configuration then configuration else import configuration;
  mk = name: script: derivation {
    inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ];
  };
  hello = mk "hello-${cfg.hello}" "echo hello > $out";
  sw = mk "system-path" "mkdir $out; ln -s ${hello} $out/hello";
  file = name: text: builtins.toFile (builtins.replaceStrings [ "/" ] [ "-" ] name) text;
  json = builtins.toJSON {
    version = 1;
    hostName = cfg.hostName;
    users = {
      root = { uid = 0; group = "root"; home = "/root"; createHome = true; isSystemUser = true; shell = "/bin/sh"; };
      alice = { uid = null; group = "users"; extraGroups = [ "wheel" ]; home = "/home/alice"; createHome = true; shell = "/bin/sh"; hashedPassword = "$6$x"; };
    };
    groups = { root = { gid = 0; }; wheel = { gid = 1; }; users = { gid = 100; }; };
    mutableUsers = false;
    tmpfiles = [ "d /var/lib/app 0755 root root -" ];
    units = builtins.attrNames cfg.units;
    kernel = null; initrd = null;
    kernelParams = [ "console=ttyS0" ];
  };
  etcLines = builtins.concatStringsSep "\n" (map (n:
    "mkdir -p $(dirname $out/etc/${n}); ln -s ${file n cfg.etc.${n}} $out/etc/${n}"
  ) (builtins.attrNames cfg.etc));
  unitLines = builtins.concatStringsSep "\n" (map (n:
    "ln -s ${file n cfg.units.${n}} $out/etc/systemd/system/${n}; ln -s ../${n} $out/etc/systemd/system/multi-user.target.wants/${n}"
  ) (builtins.attrNames cfg.units));
  toplevel = mk "kiln-system-${cfg.hostName}" ''
    ${if cfg.fail or false then "echo the build fails; exit 1" else ""}
    mkdir -p $out/etc/systemd/system/multi-user.target.wants
    ${etcLines}
    ${unitLines}
    cat ${file "kiln-system.json" json} > $out/kiln-system.json
    echo console=ttyS0 > $out/kernel-params
    echo 18.03.kiln > $out/nixos-version
    ln -s ${sw} $out/sw
  '';
in {
  inherit toplevel;
  config = cfg;
  options = { networking.hostName = { _type = "option"; }; etc = { _type = "option"; }; };
}
