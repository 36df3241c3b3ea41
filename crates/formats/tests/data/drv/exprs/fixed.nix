# Fixed-output derivations: flat and recursive, sha1/sha256/sha512, base16/nix32/SRI, and
# derivations depending on them (whose hash modulo replaces the input by its fixed hash).
let
  inherit (import ./lib.nix) mk;
  fo = name: mode: algo: hash: mk ({
    inherit name;
    outputHashMode = mode;
    outputHash = hash;
  } // (if algo == null then { } else { outputHashAlgo = algo; }));
  all = {
    flat-sha1-b16 = fo "flat-sha1-b16" "flat" "sha1" "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8";
    flat-sha1-nix32 = fo "flat-sha1-nix32" "flat" "sha1" "p1kpcdzaxbmbkp0xbphzr9x5z8vy9xw6";
    flat-sha1-sri = fo "flat-sha1-sri" "flat" null "sha1-hvfkN/qlp/zhXR3cuerq6jd2Z7g=";
    flat-sha256-b16 = fo "flat-sha256-b16" "flat" "sha256" "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    flat-sha256-nix32 = fo "flat-sha256-nix32" "flat" "sha256" "1fs8xspqaxw0p5r4wz0lz3pqd9sdvhirmcriqbxcmg8vr89835ya";
    flat-sha256-sri = fo "flat-sha256-sri" "flat" null "sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=";
    flat-sha512-b16 = fo "flat-sha512-b16" "flat" "sha512" "1f40fc92da241694750979ee6cf582f2d5d7d28e18335de05abc54d0560e0f5302860c652bf08d560252aa5e74210546f369fbbbce8c12cfc7957b2652fe9a75";
    flat-sha512-sri = fo "flat-sha512-sri" "flat" null "sha512-H0D8ktokFpR1CXnubPWC8tXX0o4YM13gWrxU0FYOD1MChgxlK/CNVgJSql50IQVG82n7u86MEs/HlXsmUv6adQ==";
    rec-sha1-b16 = fo "rec-sha1-b16" "recursive" "sha1" "e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98";
    rec-sha1-nix32 = fo "rec-sha1-nix32" "recursive" "sha1" "k27l2jdxp0bsvz9gx74nsbf9wxg1zmz9";
    rec-sha256-b16 = fo "rec-sha256-b16" "recursive" "sha256" "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
    rec-sha256-nix32 = fo "rec-sha256-nix32" "recursive" "sha256" "1780kkasxvkkrd52rm4801xbv2rln7hn8ragi4rlln9r00bfh8ry";
    rec-sha256-sri = fo "rec-sha256-sri" "recursive" null "sha256-PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0=";
    rec-sha512-nix32 = fo "rec-sha512-nix32" "recursive" "sha512" "3dfi8y6yd6y13y48jqvf4bcjd5d8lc6hnqfyw4kqm0zzl8qggpvbizq5vr92sam2sjmf8acgz5h5mnbg75capp1zi44sqpf4a47crsj";
    rec-sha512-sri = fo "rec-sha512-sri" "recursive" null "sha512-Umd2iCLuYk1I/OFexcp5y9YCy39MIVelFlVpkfIu+Me173sY0f9BxZNw77CFhlHUSpNsEbexRMSP4E3zxqPo2g==";
    # Same hash and name as flat-sha256-b16 but another builder: the same output path.
    flat-sha256-other-builder = mk {
      name = "flat-sha256-b16";
      builder = "/bin/bash";
      outputHash = "sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=";
    };
  };
in all // {
  uses-fixed = mk {
    name = "uses-fixed";
    srcs = [ all.flat-sha1-b16 all.rec-sha256-sri all.flat-sha512-sri ];
  };
  uses-both-twins = mk {
    name = "uses-both-twins";
    a = all.flat-sha256-b16;
    b = all.flat-sha256-other-builder;
  };
}
