builtins.traceVerbose (throw "message not evaluated") 3
