builtins.path {
  name = "x";
  path = "rel";
}
