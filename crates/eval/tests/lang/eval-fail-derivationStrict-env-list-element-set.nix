builtins.derivationStrict {
  name = "a";
  builder = [ "b" { } ];
  system = "s";
}
