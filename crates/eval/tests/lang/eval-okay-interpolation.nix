let x = "world"; n = { __toString = s: "obj"; }; p = { outPath = "/some/path"; }; in [ "hello ${x}!" "${n}" "${p}/bin" "nested ${"in${x}"}" ]
