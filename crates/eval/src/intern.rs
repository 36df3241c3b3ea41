//! Interned identifiers, shared by the parser and (later) the evaluator.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An interned byte string; compare symbols, not their text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(pub u32);

/// A small, fast hasher for short keys (FxHash's mixing step).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Owns the text of every [`Symbol`].
#[derive(Default)]
pub struct Interner {
    map: HashMap<Box<[u8]>, Symbol, BuildHasherDefault<FxHasher>>,
    names: Vec<Box<[u8]>>,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The symbol for `name`, creating it on first use.
    pub fn intern(&mut self, name: &[u8]) -> Symbol {
        if let Some(&sym) = self.map.get(name) {
            return sym;
        }
        let sym = Symbol(self.names.len() as u32);
        self.names.push(name.into());
        self.map.insert(name.into(), sym);
        sym
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
