{
  environment.etc."systemd/system/extra.service".text = "[Unit]\n";
  environment.etc.a = { target = "same"; text = "a"; };
  environment.etc.b = { target = "same"; text = "b"; };
}
