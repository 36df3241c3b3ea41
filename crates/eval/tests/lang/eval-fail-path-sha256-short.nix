builtins.path {
  path = ./.;
  sha256 = "abc";
}
