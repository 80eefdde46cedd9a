//! 256-entry byte tables for the text hot loops: one load per byte instead of range tests.

/// A class for every byte value, built at compile time with [`byte_table!`].
pub(crate) struct ByteTable(pub(crate) [u8; 256]);

impl ByteTable {
    /// The class of a byte.
    #[inline(always)]
    #[allow(clippy::indexing_slicing)] // a u8 indexes a 256-entry table: always in range
    pub(crate) const fn get(&self, b: u8) -> u8 {
        self.0[b as usize]
    }
}

/// Builds a [`ByteTable`] from an expression of the byte: `byte_table!(|b| if b < 0x80 { 1 } else { 0 })`.
macro_rules! byte_table {
    (|$b:ident| $class:expr) => {{
        let mut table = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            #[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
            {
                table[i] = $class;
            }
            i += 1;
        }
        $crate::bytes::ByteTable(table)
    }};
}
pub(crate) use byte_table;

// ---- eight bytes at a time (SWAR) ----------------------------------------------------------------
//
// The text loops classify eight bytes with a few integer operations on one `u64` instead of eight
// table loads. Each helper sets bit 7 of every byte (a *flag*) that has the property and clears every
// other bit. `ascii_*` helpers are exact only for bytes below 0x80: callers mask the word with
// [`LOW7`] first and drop the flags of non-ASCII bytes with `& !word`.

/// Bit 7 of every byte.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;
/// Bits 0-6 of every byte.
pub(crate) const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Flags the bytes `>= lo` of a word whose bytes are all below 0x80 (no carry crosses a byte: each
/// sum stays below 0x100).
#[inline(always)]
pub(crate) const fn ascii_at_least(w: u64, lo: u8) -> u64 {
    w.wrapping_add((0x80 - lo as u64) * ONES) & HIGH
}

/// Flags the bytes in `lo..=hi` of a word whose bytes are all below 0x80.
#[inline(always)]
pub(crate) const fn ascii_in(w: u64, lo: u8, hi: u8) -> u64 {
    ascii_at_least(w, lo) & !ascii_at_least(w, hi + 1)
}

/// Flags the bytes equal to `b` of a word whose bytes are all below 0x80.
#[inline(always)]
pub(crate) const fn ascii_eq(w: u64, b: u8) -> u64 {
    ascii_in(w, b, b)
}

/// Flags the ASCII letters of any word (non-ASCII bytes are not flagged).
#[inline(always)]
pub(crate) const fn letters(w: u64) -> u64 {
    // Setting bit 5 folds upper case onto lower case and maps no other ASCII byte into a..z.
    ascii_in((w & LOW7) | (0x20 * ONES), b'a', b'z') & !w
}

/// The eight bytes at `at` as a little-endian word (byte `at` in the low bits), if there are eight.
#[inline(always)]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Flags the bytes of any word equal to `b` (exact for every byte value: the sum of the low seven
/// bits cannot carry into the next byte).
#[inline(always)]
pub(crate) const fn bytes_equal(w: u64, b: u8) -> u64 {
    let x = w ^ (b as u64 * ONES);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The position of the first byte with a property, eight bytes at a time: `flags` flags such bytes
/// in a word, `has` tests one byte (the same property, for the last bytes).
#[inline(always)]
fn first_with(bytes: &[u8], flags: impl Fn(u64) -> u64, has: impl Fn(u8) -> bool) -> Option<usize> {
    let mut n = 0;
    while let Some(w) = word_at(bytes, n) {
        let hits = flags(w) & HIGH;
        if hits != 0 {
            return Some(n + (hits.trailing_zeros() / 8) as usize);
        }
        n += 8;
    }
    bytes.get(n..)?.iter().position(|&x| has(x)).map(|p| n + p)
}

/// The position of the first byte equal to `a` or `b`.
#[inline]
pub(crate) fn find_either(bytes: &[u8], a: u8, b: u8) -> Option<usize> {
    first_with(bytes, |w| bytes_equal(w, a) | bytes_equal(w, b), |x| x == a || x == b)
}

/// Length of the run of ASCII letters at the start of `bytes`.
#[inline(always)]
pub(crate) fn letter_run(bytes: &[u8]) -> usize {
    first_with(bytes, |w| !letters(w), |x| !x.is_ascii_alphabetic()).unwrap_or(bytes.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A word with `v` in lane `lane` and `fill` elsewhere.
    fn word(v: u8, lane: usize, fill: u8) -> u64 {
        let mut b = [fill; 8];
        b[lane] = v;
        u64::from_le_bytes(b)
    }

    fn flag(w: u64, lane: usize) -> bool {
        (w >> (lane * 8 + 7)) & 1 == 1
    }

    #[test]
    fn word_classes_match_their_byte_definitions() {
        for lane in 0..8 {
            for v in 0..=255u8 {
                for fill in [0u8, 0x20, 0x7f, 0x80, 0xff, v.wrapping_add(1)] {
                    let w = word(v, lane, fill);
                    for t in [0u8, b'\n', b'\r', b'"', b'\\', b' ', 0x7f, 0x80, 0xff, v] {
                        assert_eq!(flag(bytes_equal(w, t), lane), v == t, "{v:#x} == {t:#x} in lane {lane}");
                    }
                    assert_eq!(flag(letters(w), lane), v.is_ascii_alphabetic(), "letter {v:#x}");
                    if w & HIGH == 0 {
                        assert_eq!(flag(ascii_at_least(w, 0x20), lane), v >= 0x20);
                        assert_eq!(flag(ascii_in(w, b'0', b'9'), lane), v.is_ascii_digit());
                        assert_eq!(flag(ascii_eq(w, b'`'), lane), v == b'`');
                    }
                }
            }
        }
    }

    #[test]
    fn find_either_is_the_first_of_two_bytes() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..80 {
            for _ in 0..50 {
                let buf: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        [b'a', b'"', b'\\', b'\n', 0xe4, 0x00][(x % 6) as usize]
                    })
                    .collect();
                for (a, b) in [(b'"', b'\\'), (b'\n', b'\r'), (0xe4, 0x00)] {
                    let naive = buf.iter().position(|&c| c == a || c == b);
                    assert_eq!(find_either(&buf, a, b), naive, "{buf:?}");
                }
            }
        }
    }
}
