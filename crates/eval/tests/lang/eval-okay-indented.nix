''
  first
    indented
  last ''${also} ''' quotes $x
''
