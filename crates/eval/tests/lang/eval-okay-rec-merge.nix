# Set literals bound to the same name are merged into the first; a first `rec` literal stays
# `rec`, so what is merged into it sees its attributes, while merging into a plain set does
# not make it recursive.
let
  c = "outer";
in
{
  pathIntoRec = {
    a = rec {
      b = c + "!";
    };
    a.c = "inner";
  }.a.b;
  literalIntoRec = {
    a = rec {
      b = c + "!";
    };
    a = {
      c = "inner";
    };
  }.a.b;
  recIntoRec = {
    a = rec {
      b = c + "!";
    };
    a = rec {
      c = "inner";
      d = b;
    };
  }.a.d;
  recIntoPlain = {
    a = {
      b = 1;
    };
    a = rec {
      c = "inner";
      d = c;
    };
  }.a;
  pathIntoPlain = {
    a.c = "inner";
    a = rec {
      d = c;
    };
  }.a.d;
  nestedIntoRec = {
    a = rec {
      b = c;
    };
    a.d.e = c;
    a.c = 1;
  };
  inLet =
    let
      s = rec {
        b = c + 1;
      };
      s.c = 5;
    in
    s;
}
