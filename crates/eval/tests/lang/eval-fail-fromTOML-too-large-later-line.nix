builtins.fromTOML ''
  a = 1
  b = 2
  c = 3
  d = 4
  e = 5
  f = 6
  g = 7
  h = 8
  i = 9
  j = 10
  [t]
  x = -99999999999999999999 # a comment
''
