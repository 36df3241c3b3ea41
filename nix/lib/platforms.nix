# Platform lists for `meta.platforms`.
{ lib }:
{
  inherit (lib.systems.doubles) all linux darwin unix x86_64 aarch64;
  x86 = [ "x86_64-linux" "i686-linux" "x86_64-darwin" ];
}
