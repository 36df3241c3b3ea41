[ ("a" + { outPath = "o"; }) ("a" + { __toString = s: "t"; }) ]
