builtins.path {
  path = ./.;
  filter = 1;
}
