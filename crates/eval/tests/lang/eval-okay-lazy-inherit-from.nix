{ inherit (throw "never") a; b = 1; }.b
