builtins.fetchTarball {
  url = "http://localhost:1/a.tar.gz";
  name = "a b";
}
