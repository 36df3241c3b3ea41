# Source trees filtered on their way into the store.
{ lib }:
rec {
  # Leaves out version-control directories, editor backups, build results and object files.
  cleanSourceFilter = name: type:
    let baseName = baseNameOf (toString name); in
    !((type == "directory" && builtins.elem baseName [ ".git" ".svn" "CVS" ".hg" ])
      || lib.strings.hasSuffix "~" baseName
      || builtins.match "^\\.sw[a-z]$" baseName != null
      || builtins.match "^\\..*\\.sw[a-z]$" baseName != null
      || lib.strings.hasSuffix ".o" baseName
      || lib.strings.hasSuffix ".so" baseName
      || (type == "symlink" && lib.strings.hasPrefix "result" baseName)
      || (type == "unknown"));
  canCleanSource = src: src ? _isLibCleanSourceWith || !(builtins.isString src && lib.strings.hasPrefix builtins.storeDir src);
  cleanSourceWith = { src, filter ? (_: _: true), name ? null }:
    let
      orig = src._isLibCleanSourceWith or false;
      origSrc = if orig then src.origSrc else src;
      filter' = if orig then (path: type: filter path type && src.filter path type) else filter;
      name' = if name != null then name else if orig then src.name else "source";
    in {
      _isLibCleanSourceWith = true;
      inherit origSrc;
      filter = filter';
      name = name';
      outPath = builtins.path { name = name'; path = origSrc; filter = filter'; };
    };
  cleanSource = src: cleanSourceWith { filter = cleanSourceFilter; inherit src; };
  sourceByRegex = src: regexes:
    let
      root = toString (src.origSrc or src);
      filter = path: type:
        let relPath = lib.strings.removePrefix (root + "/") (toString path);
        in lib.lists.any (re: builtins.match re relPath != null) regexes;
    in cleanSourceWith { inherit src filter; };
  sourceFilesBySuffices = src: exts:
    cleanSourceWith {
      inherit src;
      filter = name: type: type == "directory" || lib.lists.any (ext: lib.strings.hasSuffix ext name) exts;
    };
  pathType = path: (builtins.readDir (dirOf path)).${baseNameOf path};
  pathIsDirectory = path: builtins.pathExists path && pathType path == "directory";
  pathIsRegularFile = path: builtins.pathExists path && pathType path == "regular";
  # The commit `HEAD` names in the git directory `path` (loose or packed ref).
  commitIdFromGitRepo = path:
    let
      head = lib.strings.fileContents (path + "/HEAD");
      m = builtins.match "ref: (.*)" head;
      ref = builtins.head m;
      packed = builtins.filter (l: lib.strings.hasSuffix " ${ref}" l)
        (lib.strings.splitString "\n" (builtins.readFile (path + "/packed-refs")));
    in
    if m == null then head
    else if builtins.pathExists (path + "/${ref}") then lib.strings.fileContents (path + "/${ref}")
    else if builtins.pathExists (path + "/packed-refs") && packed != [ ] then builtins.head (lib.strings.splitString " " (builtins.head packed))
    else throw "commitIdFromGitRepo: cannot find the commit of ${ref} in ${toString path}";
  pathHasContext = builtins.hasContext;
}
