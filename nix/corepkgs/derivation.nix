# `derivation`, as Kiln ships it: `builtins.derivationStrict` does the work (it writes the
# `.drv` file and returns `drvPath` and one path per output); this wrapper turns its result
# into the set users see. The value is the first output's set; every output's set holds all
# the attributes given, `drvAttrs` (those attributes), `all` (every output's set), one
# attribute per output, and its own `outPath`, `drvPath`, `outputName` and
# `type = "derivation"`.
#
# Embedded in the evaluator with include_str! and evaluated the first time `derivation` is
# called.
drvAttrs@{ outputs ? [ "out" ], ... }:

let
  strict = builtins.derivationStrict drvAttrs;

  # The set for output `outputName`.
  forOutput = outputName: {
    name = outputName;
    value = shared // {
      outPath = builtins.getAttr outputName strict;
      drvPath = strict.drvPath;
      type = "derivation";
      inherit outputName;
    };
  };

  byOutput = map forOutput outputs;

  # What every output's set has in common.
  shared = drvAttrs // builtins.listToAttrs byOutput // {
    all = map (o: o.value) byOutput;
    inherit drvAttrs;
  };
in
(builtins.head byOutput).value
