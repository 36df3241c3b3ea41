builtins.genericClosure {
  startSet = [ { key = 1; } ];
  operator = x: [ { value = 2; } ];
}
