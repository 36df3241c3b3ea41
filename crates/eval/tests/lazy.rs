//! Printing without `--strict` against the reference Nix 2.8: what is not evaluated yet prints
//! as `<CODE>`. This guards the shortcuts the evaluator takes past thunks (arguments computed
//! at the call for functions that force them first, reused call environments, the lazy
//! elements of `map` and `genList`): none may show.

use std::path::Path;

use kiln_eval::io::FsIo;
use kiln_eval::{Bump, Eval, EvalSettings};

/// The value of `expr`, forced to weak head normal form and printed as
/// `nix-instantiate --eval` prints it.
fn kiln(expr: &str) -> String {
    let expr = expr.to_owned();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let arena = Bump::new();
            let mut ev = Eval::new(&arena, Box::new(FsIo::new()), EvalSettings::default());
            let res = ev
                .eval_string(expr.as_bytes(), Path::new("/"))
                .and_then(|v| {
                    let v = ev.force(v)?;
                    kiln_eval::print::print_value(&mut ev, v, false)
                });
            res.unwrap_or_else(|e| format!("error: {}", e.kind))
        })
        .unwrap()
        .join()
        .unwrap()
}

fn reference(expr: &str) -> String {
    let state = tempfile::tempdir().unwrap();
    let out = kiln_testkit::reference_command("nix-instantiate", state.path())
        .args(["--eval", "-E", expr])
        .output()
        .expect("running the reference nix-instantiate");
    assert!(
        out.status.success(),
        "{expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn unforced_values_print_as_nix_prints_them() {
    let cases = [
        // Arguments of a function that forces its parameter first.
        "let f = n: if n < 2 then { a = n; } else f (n - 1); in f (3 + 4)",
        "let f = n: if n > 0 then [ n (n - 1) ] else [ ]; in f (2 + 3)",
        "let f = n: if n > 0 then { a = n; b = n * 2; } else { }; in f (10 - 9)",
        "let f = n: assert n > 0; [ n ]; in f (1 + 1)",
        // Selections and `builtins.head` of evaluated values, for such a function.
        "let s = { a = { x = 1; }; }; f = p: if p.x == 1 then { inherit p; } else { }; in builtins.seq s.a (f s.a)",
        "let l = [ [ 1 ] ]; f = p: if p == [ ] then 0 else { inherit p; }; in builtins.seq (builtins.head l) (f (builtins.head l))",
        "let s = { a = 1; }; f = p: if p == 0 then { } else { inherit p; }; in f s.a",
        "let f = p: if p == 0 then { } else { inherit p; }; in f (builtins.head [ (1 + 1) ])",
        // Functions that do not force it first keep the thunk.
        "let s = { a = 1; }; f = p: { inherit p; }; in builtins.seq s.a (f s.a)",
        "let l = [ 1 ]; f = p: { inherit p; }; in builtins.seq (builtins.head l) (f (builtins.head l))",
        "let f = n: { a = n; }; in f (1 + 2)",
        "let f = n: [ n ]; in f (1 + 2)",
        "let f = n: if true then [ n ] else n; in f (1 + 2)",
        "let f = n: let m = n; in { inherit m; }; in f (1 + 2)",
        "let f = n: x: [ n x ]; in f (1 + 2) (3 * 4)",
        "let f = { n }: [ n ]; in f { n = 1 + 2; }",
        // A function that fails before forcing its argument.
        "let f = n: if n == 0 then [ ] else [ n ]; in builtins.tryEval (f (1 - 1))",
        // Lazy elements from builtins.
        "builtins.genList (i: i * 2) 3",
        "let l = builtins.genList (i: i * 2) 3; in builtins.seq (builtins.elemAt l 1) l",
        "map (x: x + 1) [ 1 2 3 ]",
        "let l = map (x: x + 1) [ 1 2 3 ]; in builtins.seq (builtins.elemAt l 2) l",
        "builtins.mapAttrs (n: v: v + 1) { a = 1; b = 2; }",
        "let s = builtins.mapAttrs (n: v: v + 1) { a = 1; b = 2; }; in builtins.seq s.b s",
        // `builtins.name` is known when lowering, but stays delayed where Nix delays it.
        "[ builtins.head (builtins.head) { f = builtins.map; } ]",
        "{ f = builtins.head; g = builtins.nixVersion; }",
        "let f = x: { inherit x; }; in f builtins.head",
        // Reused environments: a value taken from one call survives the next.
        "let f = x: y: [ x y ]; a = f 1 2; b = f 3 4; in builtins.seq a (builtins.seq b [ a b ])",
        "let f = x: { inherit x; }; a = f 1; b = f 2; in [ a.x b.x ]",
        "let add = x: y: x + y; in builtins.foldl' add 0 [ 1 2 3 ]",
    ];
    for expr in cases {
        assert_eq!(kiln(expr), reference(expr), "{expr}");
    }
}
