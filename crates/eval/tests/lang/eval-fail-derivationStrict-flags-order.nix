builtins.derivationStrict {
  name = "a";
  __ignoreNulls = 1;
  __structuredAttrs = "yes";
}
