"other foo"
