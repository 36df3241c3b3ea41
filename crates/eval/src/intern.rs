//! Interned identifiers, shared by the parser and (later) the evaluator.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

/// A hash map keyed by symbols, with a fast fixed-seed hash (symbols are small numbers the
/// interner hands out in order, which no input can make collide).
pub type SymbolMap<V> = std::collections::HashMap<Symbol, V, FixedState>;

/// An interned byte string; compare symbols, not their text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(pub u32);

/// Owns the text of every [`Symbol`].
///
/// The table stores only symbol numbers; hashing and comparison go through `names`, so each
/// name is stored once. The hash is `foldhash` with a fixed seed: fast on short keys and well
/// mixed in the low bits the table indexes by (the first hasher here was not, and interning
/// 2·10^5 names like `attr12345` spent most of its time comparing colliding keys).
pub struct Interner {
    table: HashTable<u32>,
    names: Vec<Box<[u8]>>,
    hasher: FixedState,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            table: HashTable::new(),
            names: Vec::new(),
            hasher: FixedState::with_seed(0x6b69_6c6e),
        }
    }
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The symbol for `name`, creating it on first use.
    pub fn intern(&mut self, name: &[u8]) -> Symbol {
        let hash = self.hasher.hash_one(name);
        let names = &self.names;
        if let Some(&id) = self.table.find(hash, |&id| &*names[id as usize] == name) {
            return Symbol(id);
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        let (names, hasher) = (&self.names, &self.hasher);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(&*names[id as usize]));
        Symbol(id)
    }

    /// The text of `sym`.
    pub fn resolve(&self, sym: Symbol) -> &[u8] {
        &self.names[sym.0 as usize]
    }

    /// The text of `sym` as a string, with invalid UTF-8 replaced.
    pub fn name(&self, sym: Symbol) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.resolve(sym))
    }
}
