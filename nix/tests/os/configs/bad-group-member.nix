{
  users.users.alice = { isNormalUser = true; extraGroups = [ "wheel" "docker" ]; };
  users.groups.wheel.members = [ "bob" ];
}
