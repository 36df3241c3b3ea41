builtins.appendContext "x" {
  "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo.drv" = {
    outputs = [ "out" 1 ];
  };
}
