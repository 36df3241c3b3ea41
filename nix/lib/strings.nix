# Functions on strings (nixpkgs' `lib.strings` names and semantics).
{ lib }:
let
  inherit (builtins) length elemAt head tail filter concatStringsSep stringLength substring
    isString isList genList replaceStrings split match;
in
rec {
  inherit (builtins) stringLength substring head tail isString replaceStrings
    unsafeDiscardStringContext hasContext match split
    parseDrvName;
  addContextFrom = a: b: substring 0 0 a + b;
  concatStrings = builtins.concatStringsSep "";
  concatStringsSep = builtins.concatStringsSep;
  concatMapStrings = f: list: concatStrings (map f list);
  concatImapStrings = f: list: concatStrings (lib.lists.imap1 f list);
  concatMapStringsSep = sep: f: list: concatStringsSep sep (map f list);
  concatImapStringsSep = sep: f: list: concatStringsSep sep (lib.lists.imap1 f list);
  concatLines = concatMapStrings (s: s + "\n");
  intersperse = separator: list:
    if list == [ ] || length list == 1 then list
    else tail (builtins.concatMap (x: [ separator x ]) list);
  makeSearchPath = subDir: paths: concatStringsSep ":" (map (path: path + "/" + subDir) (filter (x: x != null) paths));
  makeSearchPathOutput = output: subDir: pkgs: makeSearchPath subDir (map (lib.attrsets.getOutput output) pkgs);
  # As in nixpkgs 18.03, the packages' own `lib` directories (newer nixpkgs take the `lib` output).
  makeLibraryPath = makeSearchPath "lib";
  makeIncludePath = makeSearchPathOutput "dev" "include";
  makeBinPath = makeSearchPathOutput "bin" "bin";
  normalizePath = s:
    let parts = filter isString (split "/+" s);
    in concatStringsSep "/" parts;
  optionalString = cond: string: if cond then string else "";
  hasPrefix = pref: str: substring 0 (stringLength pref) str == pref;
  hasSuffix = suffix: content:
    let lenContent = stringLength content; lenSuffix = stringLength suffix;
    in lenContent >= lenSuffix && substring (lenContent - lenSuffix) lenContent content == suffix;
  hasInfix = infix: content:
    builtins.match ".*${escapeRegex infix}.*" "${content}" != null;
  stringToCharacters = s: genList (p: substring p 1 s) (stringLength s);
  stringAsChars = f: s: concatStrings (map f (stringToCharacters s));
  charToInt = c: builtins.getAttr c asciiTable;
  asciiTable = builtins.listToAttrs (genList (n: let i = n + 1; in { name = builtins.fromJSON "\"\\u${fixedWidthString 4 "0" (lib.trivial.toHexString i)}\""; value = i; }) 127);
  escape = list: replaceStrings list (map (c: "\\${c}") list);
  escapeC = list: replaceStrings list (map (c: "\\x${toLower (lib.trivial.toHexString (charToInt c))}") list);
  escapeURL =
    let
      unreserved = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "-" "_" "." "~" ];
      toEscape = builtins.removeAttrs asciiTable unreserved;
    in replaceStrings (builtins.attrNames toEscape) (lib.attrsets.mapAttrsToList (_: c: "%${fixedWidthString 2 "0" (lib.trivial.toHexString c)}") toEscape);
  escapeShellArg = arg:
    let string = toString arg;
    in if match "[[:alnum:],._+:@%/-]+" string == null
      then "'${replaceStrings [ "'" ] [ "'\\''" ] string}'"
      else string;
  escapeShellArgs = concatMapStringsSep " " escapeShellArg;
  isValidPosixName = name: match "[a-zA-Z_][a-zA-Z0-9_]*" name != null;
  toShellVar = name: value:
    lib.trivial.throwIfNot (isValidPosixName name) "toShellVar: ${name} is not a valid shell variable name" (
      if builtins.isAttrs value && !isStringLike value then
        "declare -A ${name}=(${concatStringsSep " " (lib.attrsets.mapAttrsToList (n: v: "[${escapeShellArg n}]=${escapeShellArg v}") value)})"
      else if isList value then
        "declare -a ${name}=(${escapeShellArgs value})"
      else "${name}=${escapeShellArg value}"
    );
  toShellVars = vars: concatStringsSep "\n" (lib.attrsets.mapAttrsToList toShellVar vars);
  escapeNixString = s: escape [ "$" ] (builtins.toJSON s);
  escapeRegex = escape (stringToCharacters "\\[{()^$?*+|.");
  escapeNixIdentifier = s:
    if match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null then s else escapeNixString s;
  escapeXML = replaceStrings [ "\"" "'" "<" ">" "&" ] [ "&quot;" "&apos;" "&lt;" "&gt;" "&amp;" ];
  lowerChars = stringToCharacters "abcdefghijklmnopqrstuvwxyz";
  upperChars = stringToCharacters "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  toLower = replaceStrings upperChars lowerChars;
  toUpper = replaceStrings lowerChars upperChars;
  toSentenceCase = str:
    if str == "" then str else toUpper (substring 0 1 str) + toLower (substring 1 (stringLength str) str);
  splitString = sep: s:
    let splits = filter isString (split (escapeRegex (toString sep)) (toString s));
    in map (v: addContextFrom s v) splits;
  removePrefix = prefix: str:
    let preLen = stringLength prefix;
    in if substring 0 preLen str == prefix then substring preLen (-1) str else str;
  removeSuffix = suffix: str:
    let sufLen = stringLength suffix; sLen = stringLength str;
    in if sufLen <= sLen && suffix == substring (sLen - sufLen) sufLen str
      then substring 0 (sLen - sufLen) str else str;
  versionOlder = v1: v2: builtins.compareVersions v2 v1 == 1;
  versionAtLeast = v1: v2: !versionOlder v1 v2;
  getName = x: (parseDrvName (if isString x then x else x.name)).name;
  getVersion = x: (parseDrvName (if isString x then x else x.name)).version;
  nameFromURL = url: sep:
    let
      components = splitString "/" url;
      filename = lib.lists.last components;
      name = head (splitString sep filename);
    in assert name != filename; name;
  enableFeature = flag: feature: "--${if flag then "enable" else "disable"}-${feature}";
  enableFeatureAs = flag: feature: value: enableFeature flag feature + optionalString flag "=${value}";
  withFeature = flag: feature: "--${if flag then "with" else "without"}-${feature}";
  withFeatureAs = flag: feature: value: withFeature flag feature + optionalString flag "=${value}";
  mesonOption = feature: value: "-D${feature}=${value}";
  mesonBool = condition: flag: mesonOption condition (lib.trivial.boolToString flag);
  mesonEnable = feature: flag: mesonOption feature (if flag then "enabled" else "disabled");
  cmakeOptionType = type: feature: value: "-D${feature}:${toUpper type}=${value}";
  cmakeBool = condition: flag: cmakeOptionType "bool" condition (toUpper (lib.trivial.boolToString flag));
  cmakeFeature = feature: value: cmakeOptionType "string" feature value;
  fixedWidthString = width: filler: str:
    let strw = stringLength str; reqWidth = width - (stringLength filler);
    in if strw == width then str
      else if strw > width then throw "fixedWidthString: requested string length (${toString width}) must not be shorter than actual length (${toString strw})"
      else filler + fixedWidthString reqWidth filler str;
  fixedWidthNumber = width: n: fixedWidthString width "0" (toString n);
  floatToString = float: let result = toString float; in result;
  isCoercibleToString = x:
    builtins.elem (builtins.typeOf x) [ "path" "string" "null" "int" "float" "bool" ]
    || (isList x && lib.lists.all isCoercibleToString x)
    || x ? outPath || x ? __toString;
  isConvertibleWithToString = isCoercibleToString;
  isStringLike = x: isString x || builtins.isPath x || x ? outPath || x ? __toString;
  isStorePath = x:
    if isStringLike x then
      let str = toString x; in
      substring 0 1 str == "/"
      && dirOf str == builtins.storeDir
      && match ".{32}-.+" (baseNameOf str) != null
    else false;
  toInt = str:
    let
      m = match "[[:space:]]*(-?[0-9]+)[[:space:]]*" str;
      stripped = if m == null then null else head m;
      noLeadingZero = stripped != null && (match "-?0[0-9]+" stripped == null);
    in if m == null || !noLeadingZero then throw "toInt: Could not convert ${escapeNixString str} to int."
      else builtins.fromJSON stripped;
  toIntBase10 = str:
    let m = match "[[:space:]]*0*(-?[0-9]+)[[:space:]]*" str;
    in if m == null then throw "toIntBase10: Could not convert ${escapeNixString str} to int." else builtins.fromJSON (head m);
  readPathsFromFile = rootPath: file:
    let
      lines = splitString "\n" (builtins.readFile file);
      removeComments = filter (line: line != "" && !(hasPrefix "#" line));
    in map (path: rootPath + ("/" + path)) (removeComments lines);
  fileContents = file: removeSuffix "\n" (builtins.readFile file);
  sanitizeDerivationName = string:
    let
      # Each run of characters a store path name cannot hold becomes one "-".
      okay = concatStrings (map (x: if isList x then "-" else x) (split "[^[:alnum:]+._?=-]+" string));
      trimmed = if hasPrefix "." okay then substring 1 (-1) okay else okay;
      short = substring (lib.trivial.max 0 (stringLength trimmed - 207)) 207 trimmed;
    in if short == "" then "unknown" else short;
  trim = trimWith { start = true; end = true; };
  trimWith = { start ? false, end ? false }: s:
    let
      regex = concatStrings [
        (if start then "[[:space:]]*" else "")
        "(.*[^[:space:]]"
        (if end then ")[[:space:]]*" else "[[:space:]]*)")
      ];
      res = match regex s;
    in if res == null then "" else head res;
  commonPrefixLength = a: b:
    let m = lib.trivial.min (stringLength a) (stringLength b);
        go = i: if i < m && substring i 1 a == substring i 1 b then go (i + 1) else i;
    in go 0;
  replaceString = from: to: replaceStrings [ from ] [ to ];
  replaceChars = builtins.replaceStrings;
  makePerlPath = makeSearchPathOutput "lib" "lib/perl5/site_perl";
}
