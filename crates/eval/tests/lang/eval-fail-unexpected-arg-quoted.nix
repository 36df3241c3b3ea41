# A keyword used as a name is quoted in the message, as Nix prints it.
({ a }: a) { a = 1; "if" = 2; }
