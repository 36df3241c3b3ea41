true + false
