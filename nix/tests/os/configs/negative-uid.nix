{ users.users.alice = { isNormalUser = true; uid = -5; }; }
