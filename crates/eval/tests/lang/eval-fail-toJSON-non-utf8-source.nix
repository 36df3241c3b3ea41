builtins.toJSON {
  a = "bad þ byte";
}
