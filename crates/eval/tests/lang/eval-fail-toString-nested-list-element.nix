toString [ "a" [ { } ] ]
