{
  imports = [ ./unwanted-child.nix ];
  services.base.tags = [ "unwanted-parent" ];
}
