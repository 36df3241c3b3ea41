# genericClosure keeps its keys in an ordered set: numbers compare across int and float,
# lists element by element, and the first element with a key wins.
let
  step = { key, ... }: if key < 300 then [ { key = key + 7; } { key = (key * 3) / 2; } ] else [ ];
in
[
  (builtins.length (builtins.genericClosure { startSet = [ { key = 1; } ]; operator = step; }))
  (builtins.genericClosure {
    startSet = [ { key = 1; v = "int"; } { key = 1.0; v = "float"; } { key = 2; } ];
    operator = _: [ ];
  })
  (builtins.genericClosure {
    startSet = [ { key = [ 1 "a" ]; } { key = [ 1 "a" ]; } { key = [ 1 ]; } { key = [ ]; } ];
    operator = _: [ ];
  })
  (map (e: e.key) (builtins.genericClosure {
    startSet = [ { key = "b"; } { key = "a"; } { key = "b"; } ];
    operator = _: [ ];
  }))
]
