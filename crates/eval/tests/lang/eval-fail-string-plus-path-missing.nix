"a" + ./this-file-does-not-exist
