builtins.path {
  path = ./.;
  foo = 1;
}
