# A name that is not an identifier is quoted in the message, as Nix prints it.
({ "a b" = 1; }).${"a c"}
