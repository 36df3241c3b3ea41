# lib.trivial, fixed points, customisation, as nixpkgs 18.03 has them.
{ lib ? import <kiln/lib> }:
with lib;
let
  ext = makeExtensible (self: { a = 1; b = self.a + 1; });
  ext2 = ext.extend (self: super: { a = 10; c = super.b; });
  f = makeOverridable ({ a, b ? 2 }: { sum = a + b; }) { a = 1; };
  pkgs = { x = 5; y = 6; };
  called = callPackageWith pkgs ({ x, y, z ? 0 }: { r = x + y + z; }) { z = 1; };
  calledMany = callPackagesWith pkgs ({ x }: { p = { v = x; }; q = { v = x + 1; }; }) { };
in
{
  basics = [ (id 1) (const 1 2) (flip (a: b: a - b) 1 10) (boolToString true) (mergeAttrs { a = 1; } { b = 2; }) (min 1 2) (max 1 2) (mod 7 3) (compare 1 2) ];
  fix = [ (fix (self: { a = 1; b = self.a + 1; })).b (extends (self: super: { b = super.a * 5; }) (self: { a = 2; b = 0; }) { }).b ];
  extensible = [ ext.b ext2.b ext2.c ];
  overridable = [ f.sum (f.override { b = 5; }).sum (f.override (old: { a = old.a + 100; })).sum ];
  call = [ called.r (called.override { x = 100; }).r calledMany.p.v calledMany.q.v ];
  fnArgs = [ (functionArgs ({ a, b ? 1 }: a)) (isFunction (x: x)) (isFunction 1) (functionArgs (setFunctionArgs (x: x) { q = true; })) ];
  versions = [ (versions.major "1.2.3") (versions.minor "1.2.3") (versions.majorMinor "1.2.3") ];
  strict = [ (seq 1 2) (deepSeq [ 1 ] 2) ];
  nullable = [ (mapNullable (x: x + 1) null) (mapNullable (x: x + 1) 1) ];
}
