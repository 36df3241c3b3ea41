{ lib, ... }:
{
  config = lib.mkMerge [
    { users.alice.uid = 1001; }
  ];
}
