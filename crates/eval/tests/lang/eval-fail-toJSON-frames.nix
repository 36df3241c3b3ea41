builtins.toJSON {
  x.y = [
    1
    { z = throw "deep"; }
  ];
}
