builtins.derivationStrict {
  name = "a";
  builder = "b";
  system = "s";
  outputHash = "md5-AAAA";
}
