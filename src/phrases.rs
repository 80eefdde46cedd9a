//! Phrase lists and their compiled index: one pass over a text finds which lists (chain of thought,
//! rubric, synthetic data, probe) have a phrase in it. The lists come from the policy
//! (`detection.phrases`, defaults in [`crate::policy::default_phrases`]); `shape.rs` runs the scan.

use crate::bytes::{ascii_in, byte_table, ByteTable, HIGH, LOW7};

/// Phrase lists (lower case; `#` stands for any number), from the policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Phrases {
    /// Chain-of-thought coercion.
    pub chain_of_thought: Vec<String>,
    /// Grading / rubric / judge.
    pub rubric: Vec<String>,
    /// Synthetic-data framing.
    pub synthetic_data: Vec<String>,
    /// Identity and system-prompt probes.
    pub probe: Vec<String>,
}

/// Phrase lists compiled for one pass over the text: at each word start, the next four bytes are
/// looked up in a 16,384-bit filter and, on a hit, in the phrases sorted by their first four bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseIndex {
    filter: Box<[u64; FILTER_WORDS]>,
    /// The first four bytes of each long phrase, grouped by [`bucket`] (looked up on a filter hit).
    keys: Vec<u32>,
    /// Where each bucket's phrases start in `keys` (and where the last one ends).
    starts: Vec<u32>,
    /// The long phrases in the order of `keys`: category bit, first eight bytes (little-endian, zero
    /// past the end) with the mask of the bytes they cover, and the phrase.
    long: Vec<(u8, u64, u64, Vec<u8>)>,
    /// Phrases shorter than four bytes: searched for directly.
    short: Vec<(u8, Vec<u8>)>,
}

const FILTER_BITS: u32 = 14;
const FILTER_WORDS: usize = 1 << (FILTER_BITS - 6);

/// ASCII letters and digits, by table (one load instead of three range tests in the scan loop).
const ALNUM: ByteTable = byte_table!(|b| b.is_ascii_alphanumeric() as u8);

#[inline(always)]
fn is_alnum(b: u8) -> bool {
    ALNUM.get(b) != 0
}

/// True at a word start: the text's start, a non-ASCII byte, or after a byte that is not an ASCII
/// letter or digit.
#[inline(always)]
pub(crate) fn word_start(text: &[u8], at: usize) -> bool {
    at == 0 || text.get(at).is_some_and(|&b| b >= 0x80) || text.get(at - 1).is_some_and(|&b| !is_alnum(b))
}

/// Buckets of the phrase table: a filter hit looks only at its bucket's phrases.
const BUCKETS: usize = 1024;

/// The bucket of a phrase's first four bytes.
#[inline(always)]
fn bucket(key: u32) -> usize {
    (key.wrapping_mul(0x9e37_79b1) >> 22) as usize
}

fn filter_slot(key: u32) -> (usize, u64) {
    let h = key.wrapping_mul(0x9e37_79b1) >> (32 - FILTER_BITS);
    ((h / 64) as usize, 1u64 << (h % 64))
}

fn prefix_key(b: &[u8]) -> Option<u32> {
    match *b {
        [a, b, c, d, ..] => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

impl PhraseIndex {
    /// Compiles the lists (bit 1 chain of thought, 2 rubric, 4 synthetic data, 8 probe).
    pub fn new(p: &Phrases) -> Self {
        let mut index = PhraseIndex {
            filter: Box::new([0; FILTER_WORDS]),
            keys: Vec::new(),
            starts: Vec::new(),
            long: Vec::new(),
            short: Vec::new(),
        };
        let mut long: Vec<(usize, u32, u8, Vec<u8>)> = Vec::new();
        for (bit, list) in [(1u8, &p.chain_of_thought), (2, &p.rubric), (4, &p.synthetic_data), (8, &p.probe)] {
            for phrase in list.iter().filter(|p| !p.is_empty()) {
                let bytes = phrase.as_bytes().to_vec();
                match prefix_key(&bytes) {
                    Some(key) => {
                        let (word, mask) = filter_slot(key);
                        if let Some(w) = index.filter.get_mut(word) {
                            *w |= mask;
                        }
                        long.push((bucket(key), key, bit, bytes));
                    }
                    None => index.short.push((bit, bytes)),
                }
            }
        }
        long.sort();
        index.starts = (0..=BUCKETS).map(|b| long.partition_point(|p| p.0 < b) as u32).collect();
        for (_, key, bit, phrase) in long {
            let mut first = [0u8; 8];
            let n = phrase.len().min(8);
            first.iter_mut().zip(&phrase).for_each(|(d, s)| *d = *s);
            let mask = if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
            index.keys.push(key);
            index.long.push((bit, u64::from_le_bytes(first), mask, phrase));
        }
        index
    }

    /// False when no phrase starts with these four bytes (true: maybe).
    #[inline(always)]
    fn may_start(&self, key: u32) -> bool {
        let (word, mask) = filter_slot(key);
        self.filter.get(word % FILTER_WORDS).is_some_and(|w| w & mask != 0)
    }

    /// The category bits of the (long) phrases that `rest` (whose first four bytes are `key`) starts
    /// with and `found` lacks.
    #[inline(never)]
    fn match_key(&self, key: u32, rest: &[u8], found: u8) -> u8 {
        let b = bucket(key);
        let (from, to) = match self.starts.get(b..b + 2) {
            Some(&[from, to]) => (from as usize, to as usize),
            _ => (0, 0),
        };
        // The text's first eight bytes compared at once; the rest of a longer phrase byte by byte.
        let head = rest.first_chunk::<8>().map(|b| u64::from_le_bytes(*b));
        let mut hits = 0u8;
        let keys = self.keys.get(from..to).unwrap_or(&[]);
        for (k, (bit, first, mask, phrase)) in keys.iter().zip(self.long.get(from..to).unwrap_or(&[])) {
            if *k != key || (found | hits) & bit != 0 {
                continue;
            }
            let matched = match head {
                Some(h) => {
                    h & mask == *first && rest.get(8..).is_some_and(|r| r.starts_with(phrase.get(8..).unwrap_or(&[])))
                }
                None => rest.starts_with(phrase),
            };
            if matched {
                hits |= bit;
            }
        }
        hits
    }

    /// The category bits of the phrases starting at `at` in `text` that `found` lacks.
    #[inline(always)]
    fn match_at(&self, text: &[u8], at: usize, found: u8) -> u8 {
        let Some(rest) = text.get(at..) else { return 0 };
        let Some(key) = prefix_key(rest) else { return 0 };
        if !self.may_start(key) {
            return 0;
        }
        self.match_key(key, rest, found)
    }

    /// The category bits of the phrases found in `text` (masked text) at the `candidates`, which
    /// must include every word start of the text (other positions are checked and skipped): what
    /// [`PhraseIndex::scan`] finds, for a text whose word starts are already known
    /// ([`crate::prompt`]'s pass lists them as it writes the masked text).
    pub(crate) fn scan_at(&self, text: &[u8], candidates: &[u32]) -> u8 {
        let mut found = 0u8;
        for (bit, phrase) in &self.short {
            if found & bit == 0 && text.windows(phrase.len().max(1)).any(|w| w == phrase.as_slice()) {
                found |= bit;
            }
        }
        for &at in candidates {
            let at = at as usize;
            if let Some(&[a, b, c, d]) = text.get(at..at + 4) {
                let key = u32::from_le_bytes([a, b, c, d]);
                if self.may_start(key) && word_start(text, at) {
                    found |= self.match_key(key, text.get(at..).unwrap_or(&[]), found);
                    if found == 0b1111 {
                        break;
                    }
                }
            }
        }
        found
    }

    /// The category bits of the phrases found in `text` (masked text: lower case, `#` for numbers).
    pub fn scan(&self, text: &[u8]) -> u8 {
        let mut found = 0u8;
        for (bit, phrase) in &self.short {
            if found & bit == 0 && text.windows(phrase.len().max(1)).any(|w| w == phrase.as_slice()) {
                found |= bit;
            }
        }
        // Candidates: every position after a byte that is not an ASCII letter or digit, and every
        // non-ASCII byte (CJK text has no spaces). Found eight bytes at a time: flag the bytes that
        // are not lower-case letters (masked text has no upper case and no digits, so these are the
        // bytes that are not letters or digits; in other text a superset, checked exactly below),
        // shift the flags one byte on, add the non-ASCII bytes. Each candidate's first four bytes
        // are loaded at once and looked up in the filter; most miss.
        let mut prev_lower = false;
        let mut base = 0usize;
        let mut chunks = text.chunks_exact(8);
        for chunk in &mut chunks {
            let w = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([b'a'; 8]));
            let others = !(ascii_in(w & LOW7, b'a', b'z') & !w) & HIGH;
            let mut candidates = (others << 8) | (u64::from(!prev_lower) << 7) | (w & HIGH);
            while candidates != 0 {
                let at = base + (candidates.trailing_zeros() / 8) as usize;
                if let Some(&[a, b, c, d]) = text.get(at..at + 4) {
                    let key = u32::from_le_bytes([a, b, c, d]);
                    if self.may_start(key) && word_start(text, at) {
                        found |= self.match_key(key, text.get(at..).unwrap_or(&[]), found);
                        if found == 0b1111 {
                            return found;
                        }
                    }
                }
                candidates &= candidates - 1;
            }
            prev_lower = others >> 63 == 0;
            base += 8;
        }
        // The last bytes one at a time.
        let mut prev_alnum = base > 0 && text.get(base - 1).is_some_and(|&b| is_alnum(b));
        for (k, &b) in chunks.remainder().iter().enumerate() {
            if !prev_alnum || b >= 0x80 {
                found |= self.match_at(text, base + k, found);
                if found == 0b1111 {
                    break;
                }
            }
            prev_alnum = is_alnum(b);
        }
        found
    }
}
