//! What an interactive session (`kiln repl`) needs of the evaluator: code compiled with a
//! set of variables in scope above the builtins, as a pending thunk (a binding `x = …` is not
//! evaluated until used), and a fresh start for reloading files.

use std::path::Path;

use super::Eval;
use crate::value::{Attrs, Thunk, Value};

impl<'a> Eval<'a> {
    /// Compiles `src` (named `name`, relative paths against `dir`) with the attributes of
    /// `scope` as variables that shadow builtins of the same name, and returns it unevaluated:
    /// a thunk that evaluates it when forced.
    pub fn compile_scoped(
        &mut self,
        name: &str,
        src: &[u8],
        dir: &Path,
        scope: &'a Attrs<'a>,
    ) -> super::EvalResult<Value<'a>> {
        let file = self.sources.add(name, src.to_vec());
        let names = scope
            .entries
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name, i as u32))
            .collect();
        let ir = self.compile_file_in(file, dir, Some(names))?;
        let env = self.new_env(self.base_env, scope.entries.len());
        for (cell, a) in env.slots.iter().zip(scope.entries) {
            cell.set(a.value);
        }
        Ok(Value::Thunk(self.arena.alloc(Thunk::new(ir, env))))
    }

    /// Forgets every imported file's value, so the next `import` reads and evaluates it
    /// again (a REPL's `:reload`).
    pub fn clear_import_cache(&mut self) {
        self.import_cache.clear();
    }
}

impl Eval<'_> {
    /// The names the base environment binds (the builtins available without `builtins.`),
    /// for completion.
    pub fn base_names(&self) -> impl Iterator<Item = crate::intern::Symbol> + '_ {
        self.base_names.keys().copied()
    }
}
