# The few library functions the package set itself needs, written from their documented
# behaviour (the nixpkgs manual's `lib.fixedPoints`, `lib.customisation`), so that the package
# set does not wait for `nix/lib`. `lib` in the package set is `nix/lib` when it exists.
let
  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    functionArgs
    intersectAttrs
    isAttrs
    isFunction
    removeAttrs
    ;
in
rec {
  # The fixed point of `f`: `f (fix f)`.
  fix = f: let x = f x; in x;

  # Applies the overlay `g` (`final: prev: { … }`) to the attribute-set function `f`.
  extends = g: f: final: let prev = f final; in prev // g final prev;

  # `f` applied to `args`, with `override` on the result: `override newArgs` calls `f` again
  # with `args // newArgs` (or `args // newArgs args` when `newArgs` is a function). A result
  # that has `overrideAttrs` keeps it, re-wrapped so `override` survives it.
  makeOverridable =
    f: args:
    let
      result = f args;
      overrideWith = newArgs: args // (if isFunction newArgs then newArgs args else newArgs);
      wrap =
        r:
        if isAttrs r then
          r
          // {
            override = newArgs: makeOverridable f (overrideWith newArgs);
          }
          // (
            if r ? overrideAttrs then
              { overrideAttrs = g: wrap (r.overrideAttrs g); }
            else
              { }
          )
        else if isFunction r then
          # A function result (e.g. a builder): `override` is reachable through `__functor`.
          {
            __functor = self: r;
            override = newArgs: makeOverridable f (overrideWith newArgs);
          }
        else
          r;
    in
    wrap result;

  # `callPackageWith autoArgs fn args`: `fn` (a function or a file holding one) called with
  # those of its arguments found in `autoArgs`, then `args`; overridable. A required argument
  # found in neither is an error naming it and the function's file.
  callPackageWith =
    autoArgs: fn: args:
    let
      f = if isFunction fn then fn else import fn;
      fargs = functionArgs f;
      auto = intersectAttrs fargs autoArgs;
      missing = filter (n: !fargs.${n} && !(auto ? ${n}) && !(args ? ${n})) (attrNames fargs);
      where = if isFunction fn then "a function" else "the function in ${toString fn}";
    in
    if missing != [ ] then
      throw "callPackage: ${where} needs argument${
        if builtins.length missing > 1 then "s" else ""
      } '${concatStringsSep "', '" missing}', which the package set does not have"
    else
      makeOverridable f (auto // args);

  # The attributes of `attrs` without `names`.
  dropAttrs = names: attrs: removeAttrs attrs names;

  # `optionalAttrs cond as`: `as` when `cond`, else `{ }`.
  optionalAttrs = cond: as: if cond then as else { };

  # `optionalString cond s`: `s` when `cond`, else "".
  optionalString = cond: s: if cond then s else "";

  # The last component of a path or URL, without a query.
  baseName = s: baseNameOf (builtins.head (builtins.split "[?#]" (toString s)));
}
