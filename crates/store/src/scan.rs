//! Reference scanning: which candidate store paths' hash parts occur in a byte stream.
//!
//! A store object refers to another when the other's 32-character hash part occurs anywhere in
//! its NAR serialisation (file contents, symlink targets, names). Rather than searching for each
//! candidate in turn, [`RefScanner`] slides a 32-byte window over the data once: a window can
//! only be a hash part when all 32 bytes are nix32 characters, so the scan checks each window
//! from its end and, on a byte outside the alphabet, jumps past it. Windows made only of nix32
//! characters are looked up in a set (after a quick two-character prefilter). Every byte is
//! classified once, so the cost does not grow with the number of candidates.

use std::collections::{BTreeSet, HashMap};
use std::io;

use kiln_formats::store_path::{StorePath, HASH_PART_LEN};

/// Nix's base-32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// For each byte, its index in [`ALPHABET`] plus one, or 0 when it is not a nix32 character.
const DIGIT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 32 {
        t[ALPHABET[i] as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

/// Finds the hash parts of candidate store paths in data fed to it in pieces.
///
/// It is an [`io::Write`] sink, so a NAR can be written into it (or teed into it alongside a
/// hasher) while it streams by.
///
/// ```
/// use std::collections::BTreeSet;
/// use kiln_formats::store_path::StorePath;
/// use kiln_store::RefScanner;
/// let p = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-hello").unwrap();
/// let mut s = RefScanner::new([&p]);
/// s.update(b"#!/bin/sh\nexec /nix/store/7rjj86a15146cq1d3q");
/// s.update(b"y068lml7n8ykzm-hello/bin/hello\n");
/// assert_eq!(s.found(), &BTreeSet::from([p]));
/// ```
#[derive(Debug, Clone)]
pub struct RefScanner {
    /// Candidates by hash part.
    candidates: HashMap<[u8; HASH_PART_LEN], StorePath>,
    /// Which pairs of leading characters some candidate starts with (32 × 32 bits).
    prefixes: [u32; 32],
    /// Up to `HASH_PART_LEN - 1` trailing bytes of what was fed so far, for windows that span
    /// two pieces.
    tail: Vec<u8>,
    found: BTreeSet<StorePath>,
}

impl RefScanner {
    /// Starts a scan for the hash parts of `candidates`.
    pub fn new<'a>(candidates: impl IntoIterator<Item = &'a StorePath>) -> Self {
        let mut res = RefScanner {
            candidates: HashMap::new(),
            prefixes: [0; 32],
            tail: Vec::with_capacity(2 * HASH_PART_LEN),
            found: BTreeSet::new(),
        };
        for path in candidates {
            let hash: [u8; HASH_PART_LEN] = path
                .hash_part()
                .as_bytes()
                .try_into()
                .expect("a store path's hash part has HASH_PART_LEN bytes");
            let (a, b) = (DIGIT[hash[0] as usize], DIGIT[hash[1] as usize]);
            res.prefixes[usize::from(a - 1)] |= 1 << (b - 1);
            res.candidates.insert(hash, path.clone());
        }
        res
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    /// Scans the next piece of the data.
    pub fn update(&mut self, data: &[u8]) {
        if self.candidates.is_empty() || data.is_empty() {
            return;
        }
        // Windows that start in the previous pieces and end in this one.
        if !self.tail.is_empty() {
            let keep = self.tail.len();
            self.tail
                .extend_from_slice(&data[..data.len().min(HASH_PART_LEN - 1)]);
            let joint = std::mem::take(&mut self.tail);
            self.scan(&joint);
            self.tail = joint;
            self.tail.truncate(keep);
        }
        self.scan(data);
        // Keep the last HASH_PART_LEN - 1 bytes of everything fed so far.
        if data.len() >= HASH_PART_LEN - 1 {
            self.tail.clear();
            self.tail
                .extend_from_slice(&data[data.len() - (HASH_PART_LEN - 1)..]);
        } else {
            self.tail.extend_from_slice(data);
            let excess = self.tail.len().saturating_sub(HASH_PART_LEN - 1);
            self.tail.drain(..excess);
        }
    }

    /// The candidates found so far.
    pub fn found(&self) -> &BTreeSet<StorePath> {
        &self.found
    }

    /// Ends the scan, returning the candidates found.
    pub fn into_found(self) -> BTreeSet<StorePath> {
        self.found
    }

    /// Looks for complete windows inside `buf`.
    fn scan(&mut self, buf: &[u8]) {
        let n = buf.len();
        let mut i = 0;
        // Every byte in `i..known` is known to be a nix32 character.
        let mut known = 0;
        while i + HASH_PART_LEN <= n {
            let end = i + HASH_PART_LEN;
            let mut bad = None;
            let mut j = end;
            while j > known.max(i) {
                j -= 1;
                if DIGIT[buf[j] as usize] == 0 {
                    bad = Some(j);
                    break;
                }
            }
            match bad {
                Some(b) => {
                    // Bytes after `b` up to `end` were all checked and are nix32 characters.
                    i = b + 1;
                    known = end;
                }
                None => {
                    known = end;
                    let window = &buf[i..end];
                    let (a, b) = (DIGIT[window[0] as usize], DIGIT[window[1] as usize]);
                    if self.prefixes[usize::from(a - 1)] & (1 << (b - 1)) != 0 {
                        let key: &[u8; HASH_PART_LEN] = window.try_into().expect("window length");
                        if let Some(path) = self.candidates.get(key) {
                            if !self.found.contains(path) {
                                self.found.insert(path.clone());
                            }
                        }
                    }
                    i += 1;
                }
            }
        }
    }
}

impl io::Write for RefScanner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(hash_char: char, name: &str) -> StorePath {
        let hash: String = std::iter::repeat_n(hash_char, 32).collect();
        StorePath::from_base_name(&format!("{hash}-{name}")).unwrap()
    }

    /// The obvious algorithm, to compare with.
    fn naive(data: &[u8], candidates: &[StorePath]) -> BTreeSet<StorePath> {
        candidates
            .iter()
            .filter(|p| {
                data.windows(HASH_PART_LEN)
                    .any(|w| w == p.hash_part().as_bytes())
            })
            .cloned()
            .collect()
    }

    #[test]
    fn finds_hashes_across_any_split() {
        let a = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-a").unwrap();
        let b = StorePath::from_base_name("0zv3q8kzg89iw672fc00j77qqaw887zl-b").unwrap();
        let c = path('x', "c");
        let cands = vec![a.clone(), b.clone(), c];
        let mut data = b"xx7rjj86a15146cq1d3qy068lml7n8ykzmq ".to_vec();
        data.extend_from_slice(b"zzzz0zv3q8kzg89iw672fc00j77qqaw887zl");
        data.extend_from_slice(b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"); // 31 x: not c
        let expected = naive(&data, &cands);
        assert_eq!(expected, BTreeSet::from([a, b]));
        for piece in [1, 2, 3, 5, 7, 16, 31, 32, 33, 100] {
            let mut s = RefScanner::new(&cands);
            for chunk in data.chunks(piece) {
                s.update(chunk);
            }
            assert_eq!(s.into_found(), expected, "pieces of {piece}");
        }
    }

    #[test]
    fn agrees_with_naive_search_on_pseudo_random_data() {
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let cands: Vec<StorePath> = (0..20)
            .map(|_| {
                let hash: String = (0..32)
                    .map(|_| ALPHABET[(next() % 32) as usize] as char)
                    .collect();
                StorePath::from_base_name(&format!("{hash}-p")).unwrap()
            })
            .collect();
        for round in 0..50 {
            let mut data = Vec::new();
            for _ in 0..(next() % 40) {
                match next() % 3 {
                    0 => {
                        let c = &cands[(next() % 20) as usize];
                        let h = c.hash_part().as_bytes();
                        // Sometimes only a prefix, which must not count.
                        let len = if next() % 2 == 0 {
                            32
                        } else {
                            (next() % 32) as usize
                        };
                        data.extend_from_slice(&h[..len]);
                    }
                    1 => data.extend((0..next() % 50).map(|_| ALPHABET[(next() % 32) as usize])),
                    _ => data.extend((0..next() % 10).map(|_| (next() % 256) as u8)),
                }
            }
            let expected = naive(&data, &cands);
            let piece = 1 + (next() % 70) as usize;
            let mut s = RefScanner::new(&cands);
            for chunk in data.chunks(piece) {
                s.update(chunk);
            }
            assert_eq!(s.into_found(), expected, "round {round}");
        }
    }
}
