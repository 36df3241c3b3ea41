let
  callPackage = fn: args: fn ({ lib = { }; } // args);
  pkg = { lib, stdenv }: stdenv.mkDerivation { };
in
callPackage pkg { }
