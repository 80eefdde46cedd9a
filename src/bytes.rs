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
    let a = w & LOW7;
    (ascii_in(a, b'A', b'Z') | ascii_in(a, b'a', b'z')) & !w
}

/// Flags the ASCII letters and digits of any word.
#[inline(always)]
pub(crate) const fn alphanumerics(w: u64) -> u64 {
    letters(w) | (ascii_in(w & LOW7, b'0', b'9') & !w)
}

/// The eight bytes at `at` as a little-endian word (byte `at` in the low bits), if there are eight.
#[inline(always)]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}
