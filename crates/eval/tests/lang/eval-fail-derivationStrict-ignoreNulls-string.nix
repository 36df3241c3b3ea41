builtins.derivationStrict {
  name = "a";
  __ignoreNulls = "no";
}
