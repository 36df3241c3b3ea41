# Kiln's lib on functions newer nixpkgs dropped (not compared with nixpkgs).
let lib = import <kiln/lib>; in
{
  readPaths = map toString (lib.readPathsFromFile /r ./data/contents.txt);
  normalize = lib.normalizePath "/a//b///c";
  textClosure = lib.textClosureMap (x: x) {
    a = lib.noDepEntry "A";
    b = lib.stringAfter [ "a" ] "B";
    c = lib.stringAfter [ "b" "a" ] "C";
  } [ "c" "a" ];
}
