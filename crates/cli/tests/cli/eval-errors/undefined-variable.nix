undefined_thing + 1
