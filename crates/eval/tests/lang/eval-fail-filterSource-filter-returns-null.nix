builtins.filterSource (p: t: null) ./.
