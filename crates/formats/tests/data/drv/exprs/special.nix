# Attributes Nix treats specially, and strings that need escaping.
let
  inherit (import ./lib.nix) mk;
in {
  structured = mk {
    name = "structured";
    __structuredAttrs = true;
    outputs = [ "out" "doc" ];
    nested = { list = [ 1 2.5 true null "x" ]; str = "a\"b\\c\nd"; };
  };
  placeholders = mk {
    name = "placeholders";
    outputs = [ "out" "man" ];
    args = [ "-c" "echo ${builtins.placeholder "out"} ${builtins.placeholder "man"}" ];
    target = builtins.placeholder "man";
  };
  ignore-nulls = mk {
    name = "ignore-nulls";
    __ignoreNulls = true;
    gone = null;
    kept = "yes";
  };
  with-nulls = mk { name = "with-nulls"; empty = null; flag = true; off = false; num = 42; list = [ "a" 1 null ]; };
  escapes = mk {
    name = "escapes";
    quote = "say \"hi\"";
    backslash = "C:\\dir\\";
    newline = "line1\nline2\n";
    tab = "a\tb";
    cr = "a\rb\r\n";
    utf8 = "ünïcødé — 日本語 🎉";
    mixed = "\"\\\n\t\r$\${x}";
    args = [ "-c" "printf '%s\\n' \"$quote\"" "" "\n" ];
    "weird key\twith \"tab\"" = "v";
  };
  bytes = mk {
    name = "bytes";
    raw = builtins.readFile ./src/bytes.bin;
    args = [ (builtins.readFile ./src/bytes.bin) ];
  };
  empty-strings = mk { name = "empty-strings"; args = [ "" ]; e = ""; };
}
