//! `nix-instantiate --parse` and `--eval --xml`: the forms current Nix prints.
//!
//! Expected outputs were printed by Nix 2.26 (`nix-instantiate --parse -E …`); Nix 2.8 differs
//! in the order it prints `inherit` bindings, so it is not the oracle here.

use crate::{failure_of, legacy, stdout_of};

const CASES: &[(&str, &str)] = &[
    (r#"1 + 2 * 3"#, r#"(1 + (__mul 2 3))"#),
    (
        r#"let a = 1; b = { c = a; }; in b.c or 2"#,
        r#"(let a = 1; b = { c = a; }; in (b).c or (2))"#,
    ),
    (
        r#"rec { a.b = 1; inherit (c) d; c = { d = 2; }; }"#,
        r#"rec { inherit (c) d; a = { b = 1; }; c = { d = 2; }; }"#,
    ),
    (
        r#"with { }; if true then assert false; 1 else -3 ++ [] // {}"#,
        r#"(with { }; (if true then assert false; 1 else (((__sub 0 3) ++ [ ]) // { })))"#,
    ),
    (r#""a\nb" + ''  x''"#, r#"("a\nb" + "x")"#),
    (r#"[ 1.0e20 0.1 1.5 ]"#, r#"[ (1e+20) (0.1) (1.5) ]"#),
    (r#"{ a, b ? 1 }: a"#, r#"({ a, b ? 1 }: a)"#),
    (r#"{ ... }: 1"#, r#"({ ... }: 1)"#),
    (r#"args@{ a }: a"#, r#"({ a } @ args: a)"#),
    (r#"<nixpkgs>"#, r#"(__findFile __nixPath "nixpkgs")"#),
    (r#"__curPos"#, r#"__curPos"#),
    (r#"{ a.b = 1; a.c = 2; }"#, r#"{ a = { b = 1; c = 2; }; }"#),
    (r#"rec { }"#, r#"rec { }"#),
    (r#"x: y: x"#, r#"(x: (y: x))"#),
    (r#"let { body = 1; }"#, r#"(rec { body = 1; }).body"#),
    (r#""\${x}""#, r#""\${x}""#),
    (r#"[ null true ]"#, r#"[ (null) (true) ]"#),
    (r#"let a = 1; in "${a}""#, r#"(let a = 1; in (a))"#),
    (r#"1 + 2 + 3"#, r#"((1 + 2) + 3)"#),
    (
        r#"let a = "x"; in a + "b" + a"#,
        r#"(let a = "x"; in ((a + "b") + a))"#,
    ),
    (
        r#"let y = 1; in { a, b ? y, ... } @ args: [ a ]"#,
        r#"(let y = 1; in ({ a, b ? y, ... } @ args: [ (a) ]))"#,
    ),
    (
        r#"{ z = 1; inherit ({ q = 1; }) q; a = rec { b = 1; }; }"#,
        r#"{ inherit ({ q = 1; }) q; a = rec { b = 1; }; z = 1; }"#,
    ),
    (
        r#"let f = 1; in { x = f; }.x or 2"#,
        r#"(let f = 1; in ({ x = f; }).x or (2))"#,
    ),
    (
        r#"{ "a b".c = 1; "if" = 2; }"#,
        r#"{ "a b" = { c = 1; }; "if" = 2; }"#,
    ),
    (
        r#"let a = [1]; in a ++ a // {}"#,
        r#"(let a = [ (1) ]; in ((a ++ a) // { }))"#,
    ),
    (r#"x: x.y"#, r#"(x: (x).y)"#),
    (
        r#"let a = 1; b = 2; c = "c"; d = 3; e = 4; f = x: x; x = 5; y = { z = 1; w = 2; v = 3; }; z = y; in { b = 1; a = 2; inherit x y; inherit (z) w v; ${c} = 3; "d e" = 4; }"#,
        r#"(let a = 1; b = 2; c = "c"; d = 3; e = 4; f = (x: x); x = 5; y = { v = 3; w = 2; z = 1; }; z = y; in { inherit x y; inherit (z) v w; a = 2; b = 1; "d e" = 4; "${c}" = 3; })"#,
    ),
    (
        r#"let a = 1; b = 2; c = "c"; in a ? b.${c}"#,
        r#"(let a = 1; b = 2; c = "c"; in ((a) ? b."${c}"))"#,
    ),
    (
        r#"let a = 1; b = 2; in [ (!true) (-a) (a < b) (a > b) (a <= b) (a >= b) (a == b && a != b || true -> false) ]"#,
        r#"(let a = 1; b = 2; in [ ((! true)) ((__sub 0 a)) ((__lessThan a b)) ((__lessThan b a)) ((! (__lessThan b a))) ((! (__lessThan a b))) (((((a == b) && (a != b)) || true) -> false)) ])"#,
    ),
];

#[test]
fn parse_prints_like_current_nix() {
    let dir = tempfile::tempdir().unwrap();
    for (expr, want) in CASES {
        let got = stdout_of(
            legacy(dir.path(), "nix-instantiate")
                .current_dir(dir.path())
                .args(["--parse", "-E", expr]),
        );
        assert_eq!(got.trim_end(), *want, "--parse -E {expr}");
    }
}

#[test]
fn parse_reports_what_nix_reports_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = failure_of(legacy(dir.path(), "nix-instantiate").args(["--parse", "-E", "x + 1"]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: undefined variable 'x'"), "{err}");
    let out = failure_of(legacy(dir.path(), "nix-instantiate").args(["--parse", "-E", "1 +"]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("syntax error"), "{err}");
}

/// `nix-instantiate --eval --xml [--strict]`, as Nix 2.26 prints it (2.8 differs: it gives `-E`
/// input the expression text as its path): locations on attributes and functions,
/// `<unevaluated />` for what is not forced.
const XML_CASES: &[(&str, &str, &str)] = &[
    (
        r#""#,
        r#"[ 1 { a = 2; } ]"#,
        r#"<?xml version='1.0' encoding='utf-8'?>
<expr>
  <list>
    <int value="1" />
    <unevaluated />
  </list>
</expr>
"#,
    ),
    (
        r#"--strict"#,
        r#"[ 1 { a = 2; } ]"#,
        r#"<?xml version='1.0' encoding='utf-8'?>
<expr>
  <list>
    <int value="1" />
    <attrs>
      <attr column="7" line="1" name="a">
        <int value="2" />
      </attr>
    </attrs>
  </list>
</expr>
"#,
    ),
    (
        r#""#,
        r#"{ a = 1; b = x: x; c = { d = [ 1 "s" null true 1.5 ]; }; f = { p, q ? 1, ... }@args: p; g = builtins.map; h = 1 + 1; }"#,
        r#"<?xml version='1.0' encoding='utf-8'?>
<expr>
  <attrs>
    <attr column="3" line="1" name="a">
      <int value="1" />
    </attr>
    <attr column="10" line="1" name="b">
      <unevaluated />
    </attr>
    <attr column="20" line="1" name="c">
      <unevaluated />
    </attr>
    <attr column="58" line="1" name="f">
      <unevaluated />
    </attr>
    <attr column="89" line="1" name="g">
      <unevaluated />
    </attr>
    <attr column="107" line="1" name="h">
      <unevaluated />
    </attr>
  </attrs>
</expr>
"#,
    ),
    (
        r#"--strict"#,
        r#"{ a = 1; b = x: x; c = { d = [ 1 "s" null true 1.5 ]; }; f = { p, q ? 1, ... }@args: p; g = builtins.map; h = 1 + 1; }"#,
        r#"<?xml version='1.0' encoding='utf-8'?>
<expr>
  <attrs>
    <attr column="3" line="1" name="a">
      <int value="1" />
    </attr>
    <attr column="10" line="1" name="b">
      <function column="14" line="1">
        <varpat name="x" />
      </function>
    </attr>
    <attr column="20" line="1" name="c">
      <attrs>
        <attr column="26" line="1" name="d">
          <list>
            <int value="1" />
            <string value="s" />
            <null />
            <bool value="true" />
            <float value="1.5" />
          </list>
        </attr>
      </attrs>
    </attr>
    <attr column="58" line="1" name="f">
      <function column="62" line="1">
        <attrspat ellipsis="1" name="args">
          <attr name="p" />
          <attr name="q" />
        </attrspat>
      </function>
    </attr>
    <attr column="89" line="1" name="g">
      <unevaluated />
    </attr>
    <attr column="107" line="1" name="h">
      <int value="2" />
    </attr>
  </attrs>
</expr>
"#,
    ),
    (
        r#"--strict"#,
        r#"{ s = "<&>\"
"; }"#,
        r#"<?xml version='1.0' encoding='utf-8'?>
<expr>
  <attrs>
    <attr column="3" line="1" name="s">
      <string value="&lt;&amp;&gt;&quot;&#xA;" />
    </attr>
  </attrs>
</expr>
"#,
    ),
    (
        // Without locations (Nix's own tests compare this form).
        r#"--strict --no-location"#,
        r#"{ a = 1; f = { x ? 1 }: x; l = [ (y: y) ]; }"#,
        r#"<?xml version='1.0' encoding='utf-8'?>
<expr>
  <attrs>
    <attr name="a">
      <int value="1" />
    </attr>
    <attr name="f">
      <function>
        <attrspat>
          <attr name="x" />
        </attrspat>
      </function>
    </attr>
    <attr name="l">
      <list>
        <function>
          <varpat name="y" />
        </function>
      </list>
    </attr>
  </attrs>
</expr>
"#,
    ),
];

#[test]
fn xml_output_like_current_nix() {
    let dir = tempfile::tempdir().unwrap();
    for (flags, expr, want) in XML_CASES {
        let mut cmd = legacy(dir.path(), "nix-instantiate");
        cmd.args(["--eval", "--xml"]);
        cmd.args(flags.split_whitespace());
        let got = stdout_of(cmd.args(["-E", expr]));
        assert_eq!(got, *want, "--eval --xml {flags} -E {expr}");
    }
}
