# dynamic names are allowed below the top level of a let
let a.${b} = 1; in a