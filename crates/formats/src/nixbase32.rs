//! Nix's base-32 encoding ("nix32").
//!
//! Spec: the Nix manual, `protocols/nix32.md`. The alphabet omits `e`, `o`, `u` and `t` so that
//! encoded hashes cannot spell words. Unlike RFC 4648, the encoding is little-endian in bits: the
//! last character holds the lowest five bits of the first byte, so the string reads "backwards".
//! Its length for `n` bytes is `ceil(n * 8 / 5)`.

/// The 32 characters of the alphabet, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Maps an ASCII byte to its digit, or `0xff` when it is not in the alphabet.
const DECODE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 32 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a string is not valid nix32 for the expected length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input holds a character outside the alphabet.
    #[error("invalid character {char:?} at offset {offset} in base-32 string")]
    InvalidChar {
        /// The offending character.
        char: char,
        /// Its byte offset in the input.
        offset: usize,
    },
    /// The input has the wrong length for the number of bytes asked for.
    #[error("base-32 string has length {found}, expected {expected}")]
    BadLength {
        /// Length of the input.
        found: usize,
        /// Length the caller's byte count requires.
        expected: usize,
    },
    /// The top digit carries bits beyond the last byte.
    #[error("base-32 string has non-zero padding bits")]
    NonZeroPadding,
}

/// Returns the length of the nix32 encoding of `n_bytes` bytes.
pub const fn encoded_len(n_bytes: usize) -> usize {
    if n_bytes == 0 {
        0
    } else {
        (n_bytes * 8 - 1) / 5 + 1
    }
}

/// Encodes `bytes` as nix32.
pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let bit = n * 5;
        let (i, j) = (bit / 8, bit % 8);
        let low = bytes[i] as u16 >> j;
        let high = if i + 1 < bytes.len() {
            (bytes[i + 1] as u16) << (8 - j)
        } else {
            0
        };
        out.push(ALPHABET[((low | high) & 0x1f) as usize] as char);
    }
    out
}

/// Decodes a nix32 string into exactly `n_bytes` bytes.
pub fn decode(input: &[u8], n_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    let expected = encoded_len(n_bytes);
    if input.len() != expected {
        return Err(DecodeError::BadLength {
            found: input.len(),
            expected,
        });
    }
    let mut out = vec![0u8; n_bytes];
    for (offset, &c) in input.iter().enumerate() {
        let digit = DECODE[c as usize];
        if digit == 0xff {
            return Err(DecodeError::InvalidChar {
                char: c as char,
                offset,
            });
        }
        let n = input.len() - 1 - offset;
        let bit = n * 5;
        let (i, j) = (bit / 8, bit % 8);
        out[i] |= digit << j;
        let carry = ((digit as u16) >> (8 - j)) as u8;
        if i + 1 < n_bytes {
            out[i + 1] |= carry;
        } else if carry != 0 {
            return Err(DecodeError::NonZeroPadding);
        }
    }
    Ok(out)
}

/// Tells whether `c` is a character of the alphabet.
pub fn is_valid_char(c: u8) -> bool {
    DECODE[c as usize] != 0xff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // sha256("") in nix32, as printed by `nix-hash --type sha256 --to-base32`.
        let digest = [
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
            0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
            0x78, 0x52, 0xb8, 0x55,
        ];
        let s = encode(&digest);
        assert_eq!(s, "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
        assert_eq!(decode(s.as_bytes(), 32).unwrap(), digest);
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x1f]), "0z");
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            decode(b"0e", 1),
            Err(DecodeError::InvalidChar {
                char: 'e',
                offset: 1
            })
        ));
        assert!(matches!(
            decode(b"000", 1),
            Err(DecodeError::BadLength { .. })
        ));
        // "z0" would need a ninth bit in a one-byte value.
        assert_eq!(decode(b"z0", 1), Err(DecodeError::NonZeroPadding));
    }

    proptest::proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let s = encode(&bytes);
            proptest::prop_assert_eq!(s.len(), encoded_len(bytes.len()));
            proptest::prop_assert_eq!(decode(s.as_bytes(), bytes.len()).unwrap(), bytes);
        }
    }
}
