builtins.toJSON {
  f = builtins.add;
}
