{
  a = {
    b = throw "boom";
  };
}
