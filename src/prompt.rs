//! One pass over a prompt's text that yields, together, what the request path reads from it: the
//! token estimate ([`crate::tokens`]), the masked text ([`crate::mask`]: what the template skeleton,
//! the system fingerprint and the intent model read), the word starts where phrases are looked for
//! ([`crate::phrases`]) and the content hash (`hash::words64` of the text as sent, folded in eight
//! bytes at a time as the pass moves on).
//!
//! Prose goes a word at a time: a run of ASCII letters is found in one eight-byte load, priced (a
//! word of up to seven letters is one token), stored lower-cased with that same load, and its start
//! noted as a phrase candidate; a single space before the next word costs nothing and needs no work
//! of its own. Anything else (digits, quotes, other whitespace, punctuation, non-ASCII) goes one
//! character at a time through the estimator's and the mask's state machines. The results are those
//! of the separate functions exactly (`tests/core/prompt.rs` compares them on generated and real
//! text, and whole bodies of every API against the definitions).

use crate::bytes::{letters, word_at, HIGH};
use crate::mask::{closing_quote, mask_kind, MASK_DIGIT, MASK_PLAIN, MASK_SPACE};
use crate::phrases::{word_start, PhraseIndex};
use crate::tokens::{byte_class, classify, run_tokens, TokenCount, CJK, LETTER, NO_RUN};

/// What one pass over a prompt's text gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptText {
    /// The masked text (`mask::mask` of the text).
    pub masked: String,
    /// The phrase-list bits found in the masked text (`PhraseIndex::scan`; 0 without an index).
    pub phrases: u8,
    /// `hash::words64` of the text as sent.
    pub content: u64,
    /// The token estimate.
    pub estimate: TokenCount,
}

impl PromptText {
    /// Reads a text once (phrases are looked for when an index is given).
    pub fn read(text: &str, index: Option<&PhraseIndex>) -> PromptText {
        let bytes = text.as_bytes();
        let mut out = Out::with_room(bytes.len() + 16);
        let mut est = Estimate { total: 0, cjk: 0, class: NO_RUN, run: 0 };
        let mut mask = MaskState { prev: MASK_SPACE, skip: Skip::No };
        let mut hash = Words64::new(bytes.len());
        // The word starts of the masked text (where phrases are looked for), as it is written.
        let phrases = index.is_some();
        let mut starts: Vec<u32> = Vec::with_capacity(if phrases { bytes.len() / 4 + 8 } else { 0 });
        let mut i = 0usize;
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_alphabetic() {
                // Words of ASCII letters separated by single spaces (prose): each word is one run for
                // the estimator (a single space between two words costs nothing) and is copied
                // lower-cased by the mask, a phrase candidate at its start.
                est.flush();
                est.class = NO_RUN;
                est.run = 0;
                let writing = mask.skip == Skip::No;
                if writing && phrases && word_start(out.written(), out.len) {
                    starts.push(out.len as u32);
                }
                // Words and single spaces write no more than they read.
                out.room(bytes.len() - i + 8);
                loop {
                    if let Some(w) = word_at(bytes, i) {
                        let others = !letters(w) & HIGH;
                        if others != 0 {
                            // A word of up to seven letters: one token.
                            let bit = others.trailing_zeros();
                            let n = (bit / 8) as usize;
                            if writing {
                                out.put8_in_room(w | LOWER, n);
                            }
                            est.total += 1;
                            i += n;
                            // A single space and a letter next, in the same eight bytes (the space
                            // is already written: a space lower-cases to itself).
                            if (w >> (bit - 7)) & 0xff == u64::from(b' ')
                                && others.checked_shr(bit + 8).is_some_and(|o| o & 1 == 0)
                            {
                                i += 1;
                                if writing {
                                    out.len += 1;
                                    if phrases {
                                        starts.push(out.len as u32);
                                    }
                                }
                                continue;
                            }
                        } else {
                            let n = letters_at(bytes, i, writing.then_some(&mut out));
                            est.total += run_tokens(LETTER, n as u64);
                            i += n;
                        }
                    } else {
                        let n = letters_at(bytes, i, writing.then_some(&mut out));
                        est.total += run_tokens(LETTER, n as u64);
                        i += n;
                    }
                    match bytes.get(i..i + 2) {
                        Some(&[b' ', next]) if next.is_ascii_alphabetic() => {
                            i += 1;
                            if writing {
                                out.push(b' ');
                                if phrases {
                                    starts.push(out.len as u32);
                                }
                            }
                        }
                        _ => break,
                    }
                }
                if writing {
                    mask.prev = MASK_PLAIN;
                }
                hash.catch_up(bytes, i);
                continue;
            }
            let from = out.len;
            if b < 0x80 {
                est.unit(byte_class(b));
                mask.byte(b, &mut out);
                i += 1;
            } else {
                let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else { break };
                est.unit(classify(c));
                mask.char(c, &mut out);
                i += c.len_utf8();
            }
            if phrases {
                // Word starts among what was written (not inside a character: no phrase starts there).
                let written = out.written();
                for at in from..written.len() {
                    if written.get(at).is_some_and(|&x| x & 0xc0 != 0x80) && word_start(written, at) {
                        starts.push(at as u32);
                    }
                }
            }
            hash.catch_up(bytes, i);
        }
        est.flush();
        let mut out = out.into_vec();
        while out.last() == Some(&b' ') {
            out.pop();
        }
        let phrases = index.map_or(0, |index| index.scan_at(&out, &starts));
        PromptText {
            // Only whole characters and ASCII were written, so this never fails.
            masked: String::from_utf8(out).unwrap_or_default(),
            phrases,
            content: hash.finish(bytes),
            estimate: TokenCount { tokens: est.total, cjk: est.cjk },
        }
    }
}

/// The masked text being written: a zeroed buffer and the length written (writes need no capacity
/// test of their own; eight bytes are stored at once and the length moved by those that count).
struct Out {
    buf: Vec<u8>,
    len: usize,
}

impl Out {
    fn with_room(n: usize) -> Out {
        Out { buf: vec![0; n + 8], len: 0 }
    }

    /// Room for `n` more bytes.
    #[inline(always)]
    fn room(&mut self, n: usize) {
        if self.len + n > self.buf.len() {
            self.buf.resize((self.len + n) * 2, 0);
        }
    }

    /// Stores the eight bytes of `w` and keeps the first `n`.
    #[inline(always)]
    fn put8(&mut self, w: u64, n: usize) {
        self.room(8);
        self.put8_in_room(w, n);
    }

    /// [`Out::put8`] where [`Out::room`] already made room.
    #[inline(always)]
    fn put8_in_room(&mut self, w: u64, n: usize) {
        if let Some(d) = self.buf.get_mut(self.len..self.len + 8) {
            d.copy_from_slice(&w.to_le_bytes());
        }
        self.len += n;
    }

    #[inline(always)]
    fn push(&mut self, b: u8) {
        self.room(1);
        if let Some(d) = self.buf.get_mut(self.len) {
            *d = b;
        }
        self.len += 1;
    }

    fn extend(&mut self, s: &[u8]) {
        self.room(s.len());
        if let Some(d) = self.buf.get_mut(self.len..self.len + s.len()) {
            d.copy_from_slice(s);
        }
        self.len += s.len();
    }

    fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn into_vec(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        self.buf
    }
}

/// The length of the run of ASCII letters at `i` (at least one), copied lower-cased to `out` when
/// given: eight bytes at a time (letters only, so setting bit 5 lower-cases them).
#[inline(always)]
fn letters_at(bytes: &[u8], i: usize, mut out: Option<&mut Out>) -> usize {
    let mut n = 0usize;
    while let Some(w) = word_at(bytes, i + n) {
        let others = !letters(w) & HIGH;
        let len = if others == 0 { 8 } else { (others.trailing_zeros() / 8) as usize };
        if let Some(out) = out.as_deref_mut() {
            out.put8(w | LOWER, len);
        }
        n += len;
        if len < 8 {
            return n;
        }
    }
    // The last bytes of the text.
    for &x in bytes.get(i + n..).unwrap_or(&[]) {
        if !x.is_ascii_alphabetic() {
            break;
        }
        if let Some(out) = out.as_deref_mut() {
            out.push(x | 0x20);
        }
        n += 1;
    }
    n
}

/// Bit 5 of every byte: ORed onto ASCII letters, lower-cases them.
const LOWER: u64 = 0x2020_2020_2020_2020;

/// The estimator's state: the tokens so far and the open run (its class and length in characters).
struct Estimate {
    total: u64,
    cjk: u64,
    class: u8,
    run: u64,
}

impl Estimate {
    #[inline(always)]
    fn flush(&mut self) {
        if self.class == CJK {
            self.cjk += self.run;
        }
        self.total += run_tokens(self.class, self.run);
    }

    /// One character of class `k`.
    #[inline(always)]
    fn unit(&mut self, k: u8) {
        if k == self.class {
            self.run += 1;
        } else {
            self.flush();
            self.class = k;
            self.run = 1;
        }
    }
}

/// What the mask skips: nothing, or a quoted span up to its closing byte or character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    No,
    Byte(u8),
    Char(char),
}

/// The mask's state: the kind of the last output (runs of digits and of whitespace collapse) and the
/// quoted span being skipped.
struct MaskState {
    prev: u8,
    skip: Skip,
}

/// A quoted span's replacement.
const QUOTED: &[u8] = "\"…\"".as_bytes();

impl MaskState {
    /// One ASCII byte.
    #[inline(always)]
    fn byte(&mut self, b: u8, out: &mut Out) {
        match self.skip {
            Skip::No => {}
            Skip::Byte(q) => {
                if b == q {
                    self.skip = Skip::No;
                }
                return;
            }
            Skip::Char(_) => return,
        }
        let kind = mask_kind(b);
        if kind == MASK_PLAIN {
            out.push(b.to_ascii_lowercase());
            self.prev = MASK_PLAIN;
        } else if kind == MASK_DIGIT || kind == MASK_SPACE {
            if self.prev != kind {
                out.push(if kind == MASK_DIGIT { b'#' } else { b' ' });
            }
            self.prev = kind;
        } else {
            // `"` or a backquote: the quoted span becomes `"…"`.
            out.extend(QUOTED);
            self.skip = Skip::Byte(b);
            self.prev = MASK_PLAIN;
        }
    }

    /// One non-ASCII character.
    fn char(&mut self, c: char, out: &mut Out) {
        match self.skip {
            Skip::No => {}
            Skip::Char(q) => {
                if c == q {
                    self.skip = Skip::No;
                }
                return;
            }
            Skip::Byte(_) => return,
        }
        if let Some(q) = closing_quote(c) {
            out.extend(QUOTED);
            self.skip = Skip::Char(q);
            self.prev = MASK_PLAIN;
        } else if c.is_whitespace() {
            if self.prev != MASK_SPACE {
                out.push(b' ');
            }
            self.prev = MASK_SPACE;
        } else {
            let mut buf = [0u8; 4];
            for l in c.to_lowercase() {
                out.extend(l.encode_utf8(&mut buf).as_bytes());
            }
            self.prev = MASK_PLAIN;
        }
    }
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// `hash::words64` of the text, folded in as the pass goes (eight bytes at a time from the start).
struct Words64 {
    h: u64,
    /// The bytes folded so far (a multiple of eight).
    at: usize,
}

impl Words64 {
    fn new(len: usize) -> Words64 {
        Words64 { h: 0x243f_6a88_85a3_08d3 ^ (len as u64).wrapping_mul(K), at: 0 }
    }

    #[inline(always)]
    fn fold(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(K).rotate_left(29);
        self.at += 8;
    }

    /// Folds every whole word before `end`.
    #[inline(always)]
    fn catch_up(&mut self, bytes: &[u8], end: usize) {
        while self.at + 8 <= end {
            let Some(w) = word_at(bytes, self.at) else { break };
            self.fold(w);
        }
    }

    fn finish(mut self, bytes: &[u8]) -> u64 {
        self.catch_up(bytes, bytes.len());
        let mut last = [0u8; 8];
        for (d, s) in last.iter_mut().zip(bytes.get(self.at..).unwrap_or(&[])) {
            *d = *s;
        }
        let mut h = (self.h ^ u64::from_le_bytes(last)).wrapping_mul(K);
        h ^= h >> 32;
        h = h.wrapping_mul(K);
        h ^ (h >> 29)
    }
}
