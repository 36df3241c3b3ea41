builtins.toXML [ (x: x) ({ p, q ? 1, ... }: p) (args@{ z, p }: p) ({ a ? 1 }@x: 1) ({ }: 1) ({ ... }: 1) ]
