# A minimal `lib.systems`: system strings parsed into the attributes packages ask about.
{ lib }:
rec {
  doubles = {
    all = [ "x86_64-linux" "aarch64-linux" "i686-linux" "armv7l-linux" "riscv64-linux" "x86_64-darwin" "aarch64-darwin" ];
    linux = [ "x86_64-linux" "aarch64-linux" "i686-linux" "armv7l-linux" "riscv64-linux" ];
    darwin = [ "x86_64-darwin" "aarch64-darwin" ];
    x86_64 = [ "x86_64-linux" "x86_64-darwin" ];
    aarch64 = [ "aarch64-linux" "aarch64-darwin" ];
    unix = doubles.linux ++ doubles.darwin;
  };
  # `elaborate "x86_64-linux"` (or `{ system = …; }`) gives `system`, `config`, `parsed` and
  # the `is*` predicates.
  elaborate = args:
    let
      system = if builtins.isString args then args else args.system or (throw "lib.systems.elaborate: no `system' given");
      parts = lib.strings.splitString "-" system;
      cpu = builtins.head parts;
      kernel = lib.lists.last parts;
      bits = if builtins.elem cpu [ "x86_64" "aarch64" "riscv64" "powerpc64le" ] then 64 else 32;
      family = if builtins.elem cpu [ "x86_64" "i686" "i386" ] then "x86"
        else if builtins.elem cpu [ "aarch64" "armv7l" "armv6l" ] then "arm"
        else if cpu == "riscv64" then "riscv" else cpu;
    in {
      inherit system;
      config = if kernel == "linux" then "${cpu}-unknown-linux-gnu" else "${cpu}-apple-darwin";
      parsed = {
        cpu = { name = cpu; inherit bits family; };
        kernel = { name = kernel; };
        abi = { name = if kernel == "linux" then "gnu" else "unknown"; };
      };
      isLinux = kernel == "linux";
      isDarwin = kernel == "darwin";
      isx86_64 = cpu == "x86_64";
      isi686 = cpu == "i686";
      isx86 = family == "x86";
      isAarch64 = cpu == "aarch64";
      isAarch32 = family == "arm" && bits == 32;
      isRiscV = family == "riscv";
      is64bit = bits == 64;
      is32bit = bits == 32;
      isUnix = true;
      isMusl = false;
      isStatic = false;
      linuxArch = { x86_64 = "x86_64"; i686 = "i386"; aarch64 = "arm64"; armv7l = "arm"; riscv64 = "riscv"; }.${cpu} or cpu;
      canExecute = other: (elaborate other).system == system;
    };
  examples = { };
  inspect = { };
  parse = { };
  platforms = { };
  flakeExposed = doubles.all;
}
