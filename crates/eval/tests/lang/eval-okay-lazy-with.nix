with { a = throw "x"; }; 1
