//! Prints the S-expression of each file named on the command line, or its syntax errors.

fn main() {
    let mut files = kiln_eval::SourceMap::new();
    let mut interner = kiln_eval::Interner::new();
    for name in std::env::args().skip(1) {
        let text = std::fs::read(&name).expect("reading the file");
        let file = files.add(name, text);
        let parsed = kiln_eval::parse(file, files.text(file), &mut interner);
        println!("{}", kiln_eval::dump(&parsed.expr, &interner));
        for e in &parsed.errors {
            println!("{}", files.render_error(e));
        }
    }
}
