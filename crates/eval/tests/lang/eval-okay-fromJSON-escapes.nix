builtins.fromJSON "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u65e5\", \"\\ud83d\\ude00\", \"é日😀\"]"
