let
  lib = import <kiln/lib>;
  r = lib.evalModules {
    modules = [
      lib.kiln.assertionsModule
      { assertions = [ { assertion = 1 > 2; message = "one is not above two"; } ]; }
    ];
  };
in lib.kiln.checkAssertWarn r.config "unreachable"
