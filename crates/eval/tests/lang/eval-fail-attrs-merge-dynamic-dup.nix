# Two set literals for one attribute merge; a name made twice by ${} is an error.
let k = "x"; in
{
  a = { ${k} = 1; y = 2; };
  a = { ${"x"} = 3; };
}
