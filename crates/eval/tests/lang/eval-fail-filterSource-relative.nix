builtins.filterSource (p: t: true) "rel"
