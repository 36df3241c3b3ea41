builtins.fetchurl {
  url = "http://localhost:1/a";
  name = ".-x";
}
