builtins.toPath { }
