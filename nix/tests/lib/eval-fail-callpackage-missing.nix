let lib = import <kiln/lib>;
in (lib.callPackageWith { a = 1; } ({ a, b }: a + b) { }).value
