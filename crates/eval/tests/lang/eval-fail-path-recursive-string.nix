builtins.path {
  path = ./.;
  recursive = "yes";
}
