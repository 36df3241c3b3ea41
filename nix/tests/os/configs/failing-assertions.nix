{ config, ... }: {
  assertions = [
    { assertion = config.networking.hostName != "nixos"; message = "set networking.hostName"; }
    { assertion = true; message = "this one holds"; }
    { assertion = false; message = "the second failure"; }
  ];
}
