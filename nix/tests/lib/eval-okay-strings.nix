# lib.strings, as nixpkgs 18.03 has them.
{ lib ? import <kiln/lib> }:
with lib;
{
  concat = [ (concatStrings [ "a" "b" "c" ]) (concatStringsSep ", " [ "x" "y" ]) (concatMapStrings (x: x + ";") [ "1" "2" ])
    (concatMapStringsSep "-" toUpper [ "a" "b" ]) (concatImapStrings (i: x: "${toString i}${x}") [ "a" "b" ])
    (concatImapStringsSep "," (i: x: "${toString i}=${x}") [ "p" "q" ]) ];
  optional = [ (optionalString true "yes") (optionalString false "no") ];
  prefix = [ (hasPrefix "foo" "foobar") (hasPrefix "bar" "foobar") (hasSuffix "bar" "foobar") (hasSuffix "foo" "foobar") (hasSuffix "long-suffix" "x") ];
  remove = [ (removePrefix "foo." "foo.bar") (removePrefix "x" "foo") (removeSuffix ".nix" "a.nix") (removeSuffix "x" "abc") ];
  split = [ (splitString "," "a,b,,c") (splitString "." "no-dots") (splitString "::" "a::b") (splitString "," "") ];
  case = [ (toUpper "Hello World") (toLower "Hello World") ];
  chars = [ (stringToCharacters "abc") (stringToCharacters "") (stringAsChars (c: if c == "a" then "A" else c) "banana") ];
  intersperse = [ (intersperse "," [ "a" "b" "c" ]) (intersperse "," [ ]) (intersperse "," [ "x" ]) ];
  shell = [ (escapeShellArg "with space") (escapeShellArg "it's") (escapeShellArgs [ "a b" "d'e" ]) (escape [ "$" "\"" ] "a$b\"c") ];
  search = [ (makeSearchPath "bin" [ "/a" "/b" ]) (makeBinPath [ "/x" "/y" ]) (makeLibraryPath [ "/l" ]) ];
  version = [ (versionOlder "1.2" "1.10") (versionAtLeast "2.0" "2.0") (versionAtLeast "1.9" "2.0") ];
  features = [ (enableFeature true "foo") (enableFeature false "foo") ];
  fixed = [ (fixedWidthString 5 "0" "42") (fixedWidthNumber 3 7) ];
  misc = [ (toInt "42") (toInt "-3") (replaceStrings [ "a" "b" ] [ "1" "2" ] "abcab") (fileContents ./data/contents.txt)
    (isStorePath "/nix/store/00000000000000000000000000000000-x") (isStorePath "/tmp/x")
    (nameFromURL "https://example.org/foo-1.0.tar.gz" ".") ];
}
