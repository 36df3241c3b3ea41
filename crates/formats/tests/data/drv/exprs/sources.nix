# Store inputs that are not derivations: files from the expression's directory, builtins.path,
# and builtins.toFile files, some referring to others.
let
  inherit (import ./lib.nix) mk;
  plain = builtins.toFile "plain.txt" "just text\n";
  refers = builtins.toFile "refers.sh" "source ${plain}\ncat ${./src/hello.txt}\n";
  dir = builtins.path { path = ./src; name = "src-dir"; };
  filtered = builtins.path {
    path = ./src;
    name = "filtered";
    filter = p: t: baseNameOf p != "skip.txt";
  };
in {
  interpolated = mk { name = "interpolated"; file = "${./src/hello.txt}"; };
  paths = mk { name = "paths"; args = [ "-c" ". ${refers}; ls ${dir} ${filtered}" ]; };
  tofile-builder = mk { name = "tofile-builder"; builder = "${refers}"; args = [ ]; };
}
