# Small functions on any value: identities, booleans, numbers, versions of Nix, warnings.
{ lib }:
let
  inherit (builtins) isFunction isAttrs functionArgs;
in
rec {
  id = x: x;
  const = x: _: x;
  pipe = x: fs: builtins.foldl' (acc: f: f acc) x fs;
  concat = x: y: x ++ y;
  or = x: y: x || y;
  and = x: y: x && y;
  xor = x: y: (!x) != (!y);
  bitAnd = builtins.bitAnd;
  bitOr = builtins.bitOr;
  bitXor = builtins.bitXor;
  bitNot = builtins.sub (-1);
  boolToString = b: if b then "true" else "false";
  mergeAttrs = x: y: x // y;
  flip = f: a: b: f b a;
  mapNullable = f: a: if a == null then a else f a;
  defaultTo = default: maybe: if maybe == null then default else maybe;
  inherit (builtins)
    pathExists readFile isBool isInt isFloat add sub lessThan
    seq deepSeq genericClosure;
  isString = builtins.isString;
  version = "18.03.kiln";
  release = "18.03";
  oldestSupportedRelease = 1803;
  isInOldestRelease = release: release <= oldestSupportedRelease;
  codeName = "Kiln";
  versionSuffix = "";
  revisionWithDefault = default: default;
  inNixShell = builtins.getEnv "IN_NIX_SHELL" != "";
  inPureEvalMode = !builtins ? currentSystem;
  min = x: y: if x < y then x else y;
  max = x: y: if x > y then x else y;
  mod = base: int: base - (int * (builtins.div base int));
  compare = a: b: if a < b then -1 else if a > b then 1 else 0;
  splitByAndCompare = p: yes: no: a: b:
    if p a then (if p b then yes a b else -1) else if p b then 1 else no a b;
  importJSON = path: builtins.fromJSON (builtins.readFile path);
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  warn = msg: builtins.trace "warning: ${msg}";
  warnIf = cond: msg: if cond then warn msg else x: x;
  warnIfNot = cond: msg: if cond then x: x else warn msg;
  throwIf = cond: msg: if cond then throw msg else x: x;
  throwIfNot = cond: msg: if cond then x: x else throw msg;
  info = msg: builtins.trace "INFO: ${msg}";
  showWarnings = warnings: res: lib.lists.foldr (w: x: warn w x) res warnings;
  checkListOfEnum = msg: valid: given:
    let unexpected = lib.lists.subtractLists valid given;
    in lib.trivial.throwIfNot (unexpected == [ ])
      "${msg}: ${builtins.concatStringsSep ", " (builtins.map builtins.toString unexpected)} unexpected; valid ones: ${builtins.concatStringsSep ", " (builtins.map builtins.toString valid)}";
  setFunctionArgs = f: args: { __functor = self: f; __functionArgs = args; };
  functionArgs = f:
    if f ? __functor then f.__functionArgs or (functionArgs (f.__functor f)) else builtins.functionArgs f;
  isFunction = f: builtins.isFunction f || (f ? __functor && isFunction (f.__functor f));
  mirrorFunctionArgs = f: g: setFunctionArgs g (functionArgs f);
  toFunction = v: if isFunction v then v else _: v;
  toHexString = i:
    let
      digits = "0123456789ABCDEF";
      go = n: if n < 16 then builtins.substring n 1 digits else go (builtins.div n 16) + builtins.substring (mod n 16) 1 digits;
    in go i;
  toBaseDigits = base: i:
    let go = n: if n < base then [ n ] else go (builtins.div n base) ++ [ (mod n base) ];
    in go i;
  fromHexString = s:
    let
      chars = lib.strings.stringToCharacters (lib.strings.toLower (lib.strings.removePrefix "0x" s));
      val = c: let i = lib.lists.findFirstIndex (d: d == c) null (lib.strings.stringToCharacters "0123456789abcdef"); in
        if i == null then throw "fromHexString: ${s} is not a hexadecimal number" else i;
    in builtins.foldl' (acc: c: acc * 16 + val c) 0 chars;
}
