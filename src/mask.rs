//! Masking of prompt text: lower case, digit runs `#`, quoted spans `"…"`, whitespace collapsed. What
//! templates are compared on ([`crate::shape`]), phrases matched against ([`crate::phrases`], the
//! policy masks its phrase lists the same way) and the intent model reads ([`crate::intent`]). A leaf:
//! it imports only [`crate::bytes`].

use crate::bytes::{ascii_at_least, ascii_eq, ascii_in, byte_table, ByteTable, HIGH};

/// Lower-cases and masks the variable parts of a prompt: digit runs become `#`, quoted spans `"…"`,
/// whitespace collapses. The result is what templates are compared on and phrases matched against.
pub fn mask(text: &str) -> String {
    let bytes = text.as_bytes();
    // Written by appending (no zeroed buffer); only quotes and non-ASCII lower-casing can write more
    // than they read.
    let mut out: Vec<u8> = Vec::with_capacity(text.len() + 16);
    // The kind of the previous output: runs of digits and of whitespace collapse to one `#` / space.
    let mut prev = MASK_SPACE;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let kind = mask_kind(b);
        if kind == MASK_PLAIN {
            // A run of plain ASCII: copied lower-cased in one tight loop.
            // A single space between words is copied here too (it maps to itself), so prose runs on
            // from word to word; a second whitespace byte, a digit, a quote or non-ASCII ends the run.
            let rest = bytes.get(i..).unwrap_or(&[]);
            let mut n = 0;
            let mut last_space = false;
            // Eight bytes at a time while they are all plain or single spaces.
            for src in rest.chunks_exact(8) {
                let w = u64::from_le_bytes(<[u8; 8]>::try_from(src).unwrap_or([0; 8]));
                let Some(lower) = plain_word(w, last_space) else { break };
                out.extend_from_slice(&lower.to_le_bytes());
                last_space = w >> 56 == u64::from(b' ');
                n += 8;
            }
            for &x in rest.get(n..).unwrap_or(&[]) {
                let space = x == b' ';
                if (last_space || !space) && mask_kind(x) != MASK_PLAIN {
                    break;
                }
                out.push(x.to_ascii_lowercase());
                last_space = space;
                n += 1;
            }
            i += n.max(1);
            prev = if last_space { MASK_SPACE } else { MASK_PLAIN };
            continue;
        }
        if kind == MASK_DIGIT || kind == MASK_SPACE {
            // A run of digits becomes `#`, a run of whitespace one space.
            let rest = bytes.get(i..).unwrap_or(&[]);
            let n = rest.iter().position(|&x| mask_kind(x) != kind).unwrap_or(rest.len());
            if prev != kind {
                out.push(if kind == MASK_DIGIT { b'#' } else { b' ' });
            }
            i += n.max(1);
            prev = kind;
            continue;
        }
        if b < 0x80 {
            // `"` or a backquote: the quoted span becomes `"…"`.
            out.extend_from_slice("\"…\"".as_bytes());
            let rest = bytes.get(i + 1..).unwrap_or(&[]);
            i = rest.iter().position(|&x| x == b).map_or(bytes.len(), |p| i + 1 + p + 1);
            prev = MASK_PLAIN;
            continue;
        }
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else { break };
        i += c.len_utf8();
        if let Some(q) = closing_quote(c) {
            out.extend_from_slice("\"…\"".as_bytes());
            i = text.get(i..).and_then(|rest| rest.find(q)).map_or(bytes.len(), |p| i + p + q.len_utf8());
            prev = MASK_PLAIN;
        } else if c.is_whitespace() {
            if prev != MASK_SPACE {
                out.push(b' ');
            }
            prev = MASK_SPACE;
        } else {
            let mut buf = [0u8; 4];
            for l in c.to_lowercase() {
                out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
            }
            prev = MASK_PLAIN;
        }
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    // Only whole characters and ASCII were written, so this never fails.
    String::from_utf8(out).unwrap_or_default()
}

/// The closing mark of a non-ASCII opening quote (the quoted span is masked as `"…"`).
#[inline(always)]
pub(crate) fn closing_quote(c: char) -> Option<char> {
    match c {
        '“' => Some('”'),
        '「' => Some('」'),
        '«' => Some('»'),
        _ => None,
    }
}

/// Eight bytes of a plain run lower-cased, or `None` when one of them ends the run: a byte that is
/// not plain ASCII (controls and whitespace included) other than a single space (`last_space`: the
/// byte before the word was a space).
#[inline(always)]
fn plain_word(w: u64, last_space: bool) -> Option<u64> {
    if w & HIGH != 0 {
        return None;
    }
    let ends = (!ascii_at_least(w, 0x20) & HIGH) | ascii_in(w, b'0', b'9') | ascii_eq(w, b'"') | ascii_eq(w, b'`');
    let spaces = ascii_eq(w, b' ');
    let doubled = spaces & ((spaces << 8) | (u64::from(last_space) << 7));
    if ends | doubled != 0 {
        return None;
    }
    Some(w | (ascii_in(w, b'A', b'Z') >> 2))
}

pub(crate) const MASK_PLAIN: u8 = 0;
pub(crate) const MASK_DIGIT: u8 = 1;
pub(crate) const MASK_SPACE: u8 = 2;
const MASK_OTHER: u8 = 3;

/// How `mask` treats each byte: plain ASCII, digit, ASCII whitespace, or anything else (quotes and
/// non-ASCII, handled apart).
const MASK_KIND: ByteTable = byte_table!(|b| match b {
    b'"' | b'`' | 0x80..=0xff => MASK_OTHER,
    b'0'..=b'9' => MASK_DIGIT,
    b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => MASK_SPACE,
    _ => MASK_PLAIN,
});

#[inline(always)]
pub(crate) fn mask_kind(b: u8) -> u8 {
    MASK_KIND.get(b)
}
