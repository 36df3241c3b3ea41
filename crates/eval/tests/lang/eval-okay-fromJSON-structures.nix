builtins.fromJSON "{ \"a\": [1, 2.0, true, null, \"s\"], \"b\": {}, \"c\": [], \"d\": {\"e\": [[{\"\": 1}]]}, \"q k\": 3 }"
