{
  inherit a 1;
}
