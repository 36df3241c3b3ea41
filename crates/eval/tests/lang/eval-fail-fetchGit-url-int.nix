builtins.fetchGit 1
