{
  users.users.alice = { isNormalUser = true; uid = 1000; };
  users.users.bob = { isNormalUser = true; uid = 1000; };
  users.users.carol = { isNormalUser = true; uid = 1001; };
  users.groups.staff.gid = 100;
}
