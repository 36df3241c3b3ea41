builtins.derivationStrict {
  name = "a";
  builder = "b";
  system = "s";
  outputHash = "sha256:abc";
}
