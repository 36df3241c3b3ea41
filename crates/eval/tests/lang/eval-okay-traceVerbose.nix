builtins.traceVerbose "not shown" [ 1 2 ]
