# A package set of N derivations (default 10^4) for `bench/run instantiate`: each package
# depends on up to three earlier ones (a chain, a stride and a diamond-making jump), has two
# outputs one in eight times, a handful of ordinary attributes and its own builder script
# text; one in 100 is a fixed-output "fetch". Instantiating it writes N .drv files.
{ n ? 10000 }:
let
  mk = i:
    let
      name = "pkg-${toString i}";
      dep = j: if j >= 0 then [ (builtins.getAttr "pkg-${toString j}" set) ] else [ ];
      fetched = i - i / 100 * 100 == 0;
    in
    derivation ({
      inherit name;
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo building ${name}; mkdir -p $out" ];
      version = "1.${toString i}";
      buildInputs = dep (i - 1) ++ dep (i - 7) ++ dep (i / 2 - 1);
      configureFlags = [ "--enable-foo" "--with-bar=${toString (i * 3)}" ];
      meta = "package number ${toString i}";
    } // (if i - i / 8 * 8 == 3 then { outputs = [ "out" "dev" ]; } else { })
      // (if fetched then {
        outputHashMode = "recursive";
        outputHashAlgo = "sha256";
        outputHash = "0000000000000000000000000000000000000000000000000000";
        buildInputs = [ ];
      } else { }));
  set = builtins.listToAttrs (builtins.genList (i: { name = "pkg-${toString i}"; value = mk i; }) n);
in
set
