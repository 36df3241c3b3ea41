# Tracing helpers.
{ lib }:
rec {
  traceIf = pred: msg: x: if pred then builtins.trace msg x else x;
  traceValFn = f: x: builtins.trace (f x) x;
  traceVal = traceValFn (x: x);
  traceSeq = x: y: builtins.trace (builtins.deepSeq x x) y;
  traceSeqN = depth: x: y: builtins.trace (builtins.deepSeq x x) y;
  traceValSeqFn = f: v: traceValFn f (builtins.deepSeq v v);
  traceValSeq = traceValSeqFn (x: x);
  traceShowVal = x: builtins.trace (lib.generators.toPretty { } x) x;
  runTests = tests:
    builtins.concatMap (name:
      let test = tests.${name}; in
      if lib.strings.hasPrefix "test" name && test.expr != test.expected
      then [ { inherit name; inherit (test) expected; result = test.expr; } ] else [ ]
    ) (builtins.attrNames tests);
  testAllTrue = expr: { inherit expr; expected = map (x: true) expr; };
}
