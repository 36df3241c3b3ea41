# Overridable functions and `callPackage`.
{ lib }:
let
  inherit (builtins) intersectAttrs functionArgs isFunction isAttrs attrNames filter;
in
rec {
  overrideDerivation = drv: f:
    let newDrv = derivation (drv.drvAttrs // (f drv));
    in lib.attrsets.optionalAttrs (drv ? meta) { inherit (drv) meta; }
      // lib.attrsets.optionalAttrs (drv ? passthru) { inherit (drv) passthru; }
      // newDrv;

  # `f origArgs` with `override` (change arguments) and `overrideDerivation` added to a set
  # result; a function result gets the same treatment when called.
  makeOverridable = f:
    let
      fArgs = lib.trivial.functionArgs f;
      wrap = origArgs:
        let
          result = f origArgs;
          overrideWith = newArgs: origArgs // (if lib.trivial.isFunction newArgs then newArgs origArgs else newArgs);
          overrideResult = g: makeOverridable (args: g (f args)) origArgs;
        in
        if isAttrs result then
          result // {
            override = newArgs: wrap (overrideWith newArgs);
            overrideDerivation = fdrv: overrideResult (x: overrideDerivation x fdrv);
          }
          // lib.attrsets.optionalAttrs (result ? overrideAttrs) {
            overrideAttrs = fdrv: overrideResult (x: x.overrideAttrs fdrv);
          }
        else if lib.trivial.isFunction result then
          lib.trivial.setFunctionArgs result (lib.trivial.functionArgs result) // {
            override = newArgs: wrap (overrideWith newArgs);
          }
        else result;
    in lib.trivial.setFunctionArgs wrap fArgs;

  # Calls `fn` (a function or a file holding one) with the attributes of `autoArgs` it
  # names, overridden by `args`; a missing argument is a clear error.
  callPackageWith = autoArgs: fn: args:
    let
      f = if lib.trivial.isFunction fn then fn else import fn;
      fargs = lib.trivial.functionArgs f;
      allArgs = intersectAttrs fargs autoArgs // args;
      missing = filter (name: !fargs.${name} && !(allArgs ? ${name})) (attrNames fargs);
      where = if lib.trivial.isFunction fn then "" else " (in ${toString fn})";
    in
    if missing != [ ] then
      throw "Function called without required argument \"${builtins.head missing}\"${where}"
    else makeOverridable f allArgs;

  callPackagesWith = autoArgs: fn: args:
    let
      f = if lib.trivial.isFunction fn then fn else import fn;
      auto = intersectAttrs (lib.trivial.functionArgs f) autoArgs;
      mkAttrOverridable = name: _: makeOverridable (newArgs: (f newArgs).${name}) (auto // args);
      pkgs = f (auto // args);
    in
    if isAttrs pkgs && !lib.attrsets.isDerivation pkgs then builtins.mapAttrs mkAttrOverridable pkgs
    else throw "callPackagesWith: the function must return an attribute set of packages";

  extendDerivation = condition: passthru: drv:
    let
      outputs = drv.outputs or [ "out" ];
      commonAttrs = drv // (builtins.listToAttrs outputsList) // { all = map (x: x.value) outputsList; } // passthru;
      outputToAttrListElement = outputName: {
        name = outputName;
        value = commonAttrs // {
          inherit (drv.${outputName}) type outputName;
          outputSpecified = true;
          drvPath = assert condition; drv.${outputName}.drvPath;
          outPath = assert condition; drv.${outputName}.outPath;
        };
      };
      outputsList = map outputToAttrListElement outputs;
    in commonAttrs // {
      drvPath = assert condition; drv.drvPath;
      outPath = assert condition; drv.outPath;
    };

  hydraJob = drv: drv;

  makeScope = newScope: f:
    let
      self = f self // {
        newScope = scope: newScope (self // scope);
        callPackage = self.newScope { };
        overrideScope = g: makeScope newScope (lib.fixedPoints.extends g f);
        packages = f;
      };
    in self;
}
