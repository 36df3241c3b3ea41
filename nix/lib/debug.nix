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
  traceValSeqN = depth: v: builtins.trace (builtins.deepSeq v v) v;
  traceValSeqNFn = f: depth: v: builtins.trace (f (builtins.deepSeq v v)) v;
  showVal = x: lib.generators.toPretty { multiline = false; } x;
  traceShowValMarked = str: x: builtins.trace (str + showVal x) x;
  traceValIfNot = c: x: if c x then true else builtins.trace (showVal x) false;
  traceXMLVal = x: builtins.trace (builtins.toXML x) x;
  traceXMLValMarked = str: x: builtins.trace (str + builtins.toXML x) x;
  traceCall = n: f: a: let t = n2: x: traceShowValMarked "${n} ${n2}:" x; in t "result" (f (t "arg 1" a));
  traceCall2 = n: f: a: b: let t = n2: x: traceShowValMarked "${n} ${n2}:" x; in t "result" (f (t "arg 1" a) (t "arg 2" b));
  traceCall3 = n: f: a: b: c: let t = n2: x: traceShowValMarked "${n} ${n2}:" x; in t "result" (f (t "arg 1" a) (t "arg 2" b) (t "arg 3" c));
  addErrorContextToAttrs = attrs: builtins.mapAttrs (a: v: builtins.addErrorContext "while evaluating ${a}" v) attrs;
  runTests = tests:
    builtins.concatMap (name:
      let test = tests.${name}; in
      if lib.strings.hasPrefix "test" name && test.expr != test.expected
      then [ { inherit name; inherit (test) expected; result = test.expr; } ] else [ ]
    ) (builtins.attrNames tests);
  testAllTrue = expr: { inherit expr; expected = map (x: true) expr; };
}
