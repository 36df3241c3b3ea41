let
  x = 1;
in
{
  a = throw "boom";
}
