//! Metering an SSE stream without parsing most of its events.
//!
//! [`SseParser`] hands every event over as a copy of its data; metering does not need that. Most
//! events of a stream are text deltas: the meter needs their text (to estimate a stream that ends
//! without usage) and needs to know that they carry no usage. [`StreamScanner`] frames the events
//! where they are in the chunk, and in the same pass over each `data:` line stops only at line ends
//! and colons: a colon right after a string is a key (inside a JSON string every quote is escaped),
//! and only the keys the meter reads are looked at (four bytes compared first). The text values are
//! copied (not estimated) at the event's end; the few events that may carry usage are handed over
//! whole, to be parsed. Only an event split at a chunk's end is held, capped.

use crate::api::{STREAM_TEXT_KEYS, USAGE_EVENTS};
use crate::bytes::{word_at, HIGH};
use crate::sse::SseParser;

const ONES: u64 = 0x0101_0101_0101_0101;

/// Flags the bytes below 0x0e of a word (`\n` and `\r` among them). Exact for the lowest flagged byte
/// (a borrow only reaches the bytes above a true one), which is all a search needs.
#[inline(always)]
fn controls(w: u64) -> u64 {
    w.wrapping_sub(0x0e * ONES) & !w & HIGH
}

/// Flags the bytes of a word equal to `b`. Exact for the lowest flagged byte.
#[inline(always)]
fn equal(w: u64, b: u8) -> u64 {
    let x = w ^ (u64::from(b) * ONES);
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The first position from `from` of a byte that `flags` flags in a word (lowest flag exact) and `has`
/// says of a byte (for the last bytes).
#[inline(always)]
fn first(bytes: &[u8], from: usize, flags: impl Fn(u64) -> u64, has: impl Fn(u8) -> bool) -> Option<usize> {
    let mut n = from;
    while let Some(w) = word_at(bytes, n) {
        let hits = flags(w);
        if hits != 0 {
            return Some(n + (hits.trailing_zeros() / 8) as usize);
        }
        n += 8;
    }
    bytes.get(n..)?.iter().position(|&b| has(b)).map(|p| n + p)
}

fn is_line_end(b: Option<&u8>) -> bool {
    matches!(b, Some(b'\n' | b'\r'))
}

/// The first `\n` or `\r` from `from`.
pub(super) fn line_end(ev: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let p = first(ev, i, controls, |b| b < 0x0e)?;
        if is_line_end(ev.get(p)) {
            return Some(p);
        }
        i = p + 1;
    }
}

/// Where the JSON string whose content starts at `s` ends: `Ok(closing quote)`, `Err(line end)` when
/// the line ends first (malformed), `None` when the bytes end first.
#[inline(always)]
fn string_end(ev: &[u8], s: usize) -> Option<Result<usize, usize>> {
    let mut i = s;
    'words: loop {
        let w = word_or_end(ev, i);
        let base = i;
        i += 8;
        let mut hits = equal(w, b'"') | equal(w, b'\\') | controls(w);
        while hits != 0 {
            let p = base + (hits.trailing_zeros() / 8) as usize;
            hits &= hits - 1;
            match *ev.get(p)? {
                b'"' => return Some(Ok(p)),
                b'\\' => {
                    // The escaped byte is skipped, unless it ends the line.
                    if is_line_end(Some(ev.get(p + 1)?)) {
                        return Some(Err(p + 1));
                    }
                    if p + 2 >= i {
                        i = p + 2;
                        continue 'words;
                    }
                    hits &= !0u64 << ((p + 2 - base) * 8);
                }
                b'\n' | b'\r' => return Some(Err(p)),
                _ => {}
            }
        }
    }
}

/// The last four bytes of a key, to compare keys with one load.
#[allow(clippy::indexing_slicing)] // evaluated at compile time only: a key under four bytes fails the build
const fn suffix(key: &[u8]) -> u32 {
    let n = key.len();
    u32::from_le_bytes([key[n - 4], key[n - 3], key[n - 2], key[n - 1]])
}

/// The keys the scan reads: the stream text keys, then `type` and `usage`.
const KEY_COUNT: usize = STREAM_TEXT_KEYS.len() + 2;
const TYPE_KEY: usize = STREAM_TEXT_KEYS.len();
const USAGE_KEY: usize = STREAM_TEXT_KEYS.len() + 1;
const KEYS: [&[u8]; KEY_COUNT] = {
    let mut out: [&[u8]; KEY_COUNT] = [b"type"; KEY_COUNT];
    let mut i = 0;
    while i < STREAM_TEXT_KEYS.len() {
        #[allow(clippy::indexing_slicing)] // compile time: in range by the loop bound
        {
            out[i] = STREAM_TEXT_KEYS[i];
        }
        i += 1;
    }
    #[allow(clippy::indexing_slicing)] // compile time: in range
    {
        out[USAGE_KEY] = b"usage";
    }
    out
};

/// A key's last four bytes hashed to one of 16 buckets.
#[inline(always)]
const fn bucket(tail: u32, multiplier: u32) -> usize {
    (tail.wrapping_mul(multiplier) >> 28) as usize
}

/// The hash multiplier (the first that puts keys with different last four bytes in different
/// buckets, found at compile time) and the buckets: a last-four-bytes value and the keys (a bit each)
/// that end with it.
const KEY_TABLE: (u32, [(u32, u16); 16]) = {
    let mut attempt = 0u32;
    loop {
        #[allow(clippy::manual_assert)]
        if attempt == 10_000 {
            panic!("no multiplier separates the scan keys"); // compile time only
        }
        let multiplier = 0x9e37_79b1u32.wrapping_add(attempt.wrapping_mul(2));
        let mut table = [(0u32, 0u16); 16];
        let mut ok = true;
        let mut k = 0;
        while k < KEY_COUNT {
            #[allow(clippy::indexing_slicing)] // compile time: in range by the loop bounds
            {
                let tail = suffix(KEYS[k]);
                let at = bucket(tail, multiplier);
                if table[at].1 != 0 && table[at].0 != tail {
                    ok = false;
                }
                table[at] = (tail, table[at].1 | (1 << k));
            }
            k += 1;
        }
        if ok {
            break (multiplier, table);
        }
        attempt += 1;
    }
};

/// The keys (a bit each) whose last four bytes are `tail`.
#[inline(always)]
fn keys_ending(tail: u32) -> u16 {
    match KEY_TABLE.1.get(bucket(tail, KEY_TABLE.0)) {
        Some(&(t, keys)) if t == tail => keys,
        _ => 0,
    }
}

/// True when the string closed at `close` (a quote) is the key `key`: its opening quote is at or after
/// `from` and is not escaped.
#[inline(always)]
fn is_key(ev: &[u8], from: usize, close: usize, key: &[u8]) -> bool {
    let Some(open) = close.checked_sub(key.len() + 1) else { return false };
    open >= from
        && ev.get(open) == Some(&b'"')
        && ev.get(open + 1..close) == Some(key)
        && (open == from || ev.get(open - 1) != Some(&b'\\'))
}

/// What [`scan_data`] found in the `data:` lines of an event.
#[derive(Debug, Default)]
pub(crate) struct DataScan {
    /// A `"usage"` key with an object value, or a `"type"` naming a usage event.
    pub(crate) usage: bool,
    /// The text values' byte ranges, in order.
    pub(crate) text: Vec<(usize, usize)>,
    /// Whether usage had been found when the first text value began.
    usage_before_text: bool,
}

impl DataScan {
    fn push_text(&mut self, start: usize, end: usize) {
        if self.text.is_empty() {
            self.usage_before_text = self.usage;
        }
        self.text.push((start, end));
    }
}

/// The eight bytes at `at` as a word, bytes past the end read as 0 (a control byte: a search stops
/// there and finds the end).
#[inline(always)]
fn word_or_end(bytes: &[u8], at: usize) -> u64 {
    if let Some(w) = word_at(bytes, at) {
        return w;
    }
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(bytes.get(at..).unwrap_or(&[])) {
        *d = *s;
    }
    u64::from_le_bytes(b)
}

/// What a colon at `p` in a data value starting at `v` is: where to scan on, or `None` when the bytes
/// end before that is known.
#[inline(never)] // off the common path (text values are found from the remembered prefix)
fn on_colon(ev: &[u8], v: usize, p: usize, found: &mut DataScan) -> Option<usize> {
    let next = p + 1;
    if p <= v {
        return Some(next);
    }
    // A key: a string closed right before the colon (JSON whitespace between allowed).
    let close = if ev.get(p - 1) == Some(&b'"') {
        p - 1
    } else {
        let mut q = p;
        while q > v && matches!(ev.get(q - 1), Some(b' ' | b'\t')) {
            q -= 1;
        }
        if q == p || q <= v || ev.get(q - 1) != Some(&b'"') {
            return Some(next);
        }
        q - 1
    };
    let tail = close.checked_sub(4).and_then(|s| ev.get(s..close)).and_then(|t| <[u8; 4]>::try_from(t).ok());
    let keys = tail.map_or(0, |t| keys_ending(u32::from_le_bytes(t)));
    if keys == 0 {
        return Some(next);
    }
    let Some(key) =
        (0..KEY_COUNT).find(|&k| keys & (1 << k) != 0 && KEYS.get(k).is_some_and(|key| is_key(ev, v, close, key)))
    else {
        return Some(next);
    };
    let mut j = next;
    while matches!(ev.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    let value = *ev.get(j)?;
    if key == USAGE_KEY {
        found.usage |= value == b'{';
        return Some(j);
    }
    if value != b'"' {
        return Some(j);
    }
    match string_end(ev, j + 1)? {
        Err(at) => Some(at),
        Ok(end) => {
            if key == TYPE_KEY {
                let name = ev.get(j + 1..end).unwrap_or(&[]);
                found.usage |= USAGE_EVENTS.contains(&name);
            } else {
                found.push_text(j + 1, end);
            }
            Some(end + 1)
        }
    }
}

/// Scans the JSON of a `data:` value starting at `v` up to its line end (from `text_at` when the scan
/// resumes inside a text value that starts there): text values of the stream text keys, and usage.
/// `Some(line end)`; `None` when the bytes end before the line does, unless `whole` (the bytes' end
/// ends the line: `Some(ev.len())`).
#[inline(always)]
pub(crate) fn scan_data(
    ev: &[u8],
    v: usize,
    from: usize,
    text_at: Option<usize>,
    whole: bool,
    found: &mut DataScan,
) -> Option<usize> {
    let ended = || whole.then_some(ev.len());
    let mut i = from;
    if let Some(s) = text_at {
        match string_end(ev, s) {
            None => return ended(),
            Some(Err(at)) => i = at,
            Some(Ok(end)) => {
                found.push_text(s, end);
                i = end + 1;
            }
        }
    }
    'words: loop {
        let w = word_or_end(ev, i);
        let base = i;
        i += 8;
        // Colons and control bytes (line ends among them), lowest first; a flag above a true one may
        // be false, so each is checked.
        let mut hits = controls(w) | equal(w, b':');
        while hits != 0 {
            let p = base + (hits.trailing_zeros() / 8) as usize;
            hits &= hits - 1;
            let Some(&b) = ev.get(p) else { return ended() };
            if b != b':' {
                if b == b'\n' || b == b'\r' {
                    return Some(p);
                }
                continue;
            }
            let Some(to) = on_colon(ev, v, p, found) else { return ended() };
            if to >= i {
                i = to;
                continue 'words;
            }
            if to > p + 1 {
                hits &= !0u64 << ((to - base) * 8);
            }
        }
    }
}

/// Progress through the event being scanned (positions from its first byte).
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    /// Start of the current line.
    line: usize,
    /// The current line was found incomplete: its end is searched from `pos`, then it is read whole.
    partial: bool,
    pos: usize,
    /// The value of the last `event:` line.
    name: (usize, usize),
    /// The value of the first `data:` line, and the number of data lines.
    data: (usize, usize),
    data_lines: u32,
    /// The event's first line was looked at (and whether a CR ended the line before it).
    begun: bool,
    start_cr: bool,
}

/// The bytes of a recent event up to the start of its first text value, and the scan's state there
/// (see [`StreamScanner`]).
#[derive(Debug, Default)]
struct Prefix {
    bytes: Vec<u8>,
    at: Progress,
    /// Where the value of the `data:` line holding the text starts.
    value: usize,
    /// The event's name is not one that reports usage.
    plain: bool,
    /// The text's line is the event's first `data:` line, and its value holds no backslash before
    /// the text (see [`Frames`]).
    simple: bool,
}

/// The text values collected so far: a buffer kept zero-filled past `len`, so that a short value is
/// one eight-byte store (no call to grow or copy a slice).
#[derive(Debug, Default)]
struct TextBuf {
    bytes: Vec<u8>,
    len: usize,
}

impl TextBuf {
    /// Appends `ev[a..b]` (a short value as one word).
    #[inline(always)]
    fn append(&mut self, ev: &[u8], a: usize, b: usize) {
        let src = ev.get(a..b).unwrap_or(&[]);
        let n = src.len();
        let need = self.len + n.max(8);
        if self.bytes.len() < need {
            // A stream's text is a few kilobytes: grown in few steps.
            let grown = need.max(2 * self.bytes.len()).max(1024);
            self.bytes.resize(grown, 0);
        }
        match word_at(ev, a) {
            Some(w) if n <= 8 => {
                if let Some(dst) = self.bytes.get_mut(self.len..self.len + 8) {
                    dst.copy_from_slice(&w.to_le_bytes());
                }
            }
            _ => {
                if let Some(dst) = self.bytes.get_mut(self.len..self.len + n) {
                    dst.copy_from_slice(src);
                }
            }
        }
        self.len += n;
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The text collected, and an empty buffer in its place.
    fn take(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.truncate(std::mem::take(&mut self.len));
        bytes
    }
}

/// True when `bytes` start with `prefix` (compared a word at a time, without a branch a word: the
/// common event matches the whole prefix).
#[inline(always)]
fn starts_with(bytes: &[u8], prefix: &[u8]) -> bool {
    let n = prefix.len();
    let Some(head) = bytes.get(..n) else { return false };
    if n < 8 {
        return head == prefix;
    }
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
    let mut diff = 0;
    for (h, p) in head.chunks_exact(8).zip(prefix.chunks_exact(8)) {
        diff |= word(h) ^ word(p);
    }
    // The last eight bytes (overlapping the words before).
    let (h, p) = (head.get(n - 8..).unwrap_or(&[]), prefix.get(n - 8..).unwrap_or(&[]));
    diff | (word(h) ^ word(p)) == 0
}

/// Where the events of a chunk end, for the usage-chunk filter ([`super::UsageChunkFilter`]), as
/// offsets in the chunk just after each event's blank line. Only the events the scan could not show
/// *plain* are listed: a plain event is one `data:` line of the common shape (the remembered prefix,
/// its text, the rest of the line, then `\n\n`), with no `"usage"` object and no backslash outside
/// its text value, so it cannot be the usage-only chunk (which needs a `usage` key with an object
/// value: written plainly, the scan would have found it; written with an escape, it would hold a
/// backslash). The filter checks the listed events itself.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The events to check: where each starts (`None`: before the chunk, the first event ending in
    /// it; else where the event before it ended) and where it ends.
    pub(crate) checked: Vec<(Option<usize>, usize)>,
    /// Where the chunk's last complete event ends (`None`: no event ends in it).
    pub(crate) last: Option<usize>,
}

impl Frames {
    pub(crate) fn clear(&mut self) {
        self.checked.clear();
        self.last = None;
    }
}

/// Receives the event ends of a chunk ([`Frames`]); the meter alone records none (and pays nothing
/// for them).
pub(crate) trait Ends {
    /// Whether ends are recorded at all.
    const ON: bool;
    /// An event ended at `at` (plain or to be checked).
    fn ended(&mut self, at: usize, plain: bool);
}

/// No ends recorded (metering alone).
pub(crate) struct NoEnds;

impl Ends for NoEnds {
    const ON: bool = false;
    #[inline(always)]
    fn ended(&mut self, _: usize, _: bool) {}
}

impl Ends for Frames {
    const ON: bool = true;
    #[inline(always)]
    fn ended(&mut self, at: usize, plain: bool) {
        if !plain {
            self.checked.push((self.last, at));
        }
        self.last = Some(at);
    }
}

/// True when `ev[a..b]` holds a backslash. A range of up to eight bytes (the rest of a common event's
/// line, `"}}]}`) is one load when eight bytes are there; a longer one is searched bytewise.
#[inline(always)]
fn has_backslash(ev: &[u8], a: usize, b: usize) -> bool {
    let n = b.saturating_sub(a);
    if n == 0 {
        return false;
    }
    if n <= 8 {
        if let Some(w) = word_at(ev, a) {
            // Only the `n` bytes in range count (the lowest flag is exact, so a flag in range is a
            // backslash).
            return equal(w, b'\\') & (u64::MAX >> ((8 - n) * 8)) != 0;
        }
    }
    ev.get(a..b).is_some_and(|t| t.contains(&b'\\'))
}

/// What [`StreamScanner::fast`] made of the bytes at an event's start.
enum Fast {
    /// The common event, whole: its end, and where its first text value ends.
    Event(usize, usize),
    /// The common event's start, cut before its end.
    Cut,
    /// Anything else: read by the full scan.
    Other,
}

/// Frames SSE events for metering (see above): text values are collected, events that may carry usage
/// are handed over.
#[derive(Debug, Default)]
pub struct StreamScanner {
    /// The bytes of the event split at the last chunk's end, from its first byte.
    held: Vec<u8>,
    at: Progress,
    /// What the current event's data lines hold so far.
    found: DataScan,
    /// The last line ended with a CR: a LF next is the rest of its line end.
    after_cr: bool,
    /// The current event outgrew the cap: skipped to its end, its bytes not kept.
    skipping: bool,
    /// While skipping: the next byte starts a line.
    skip_line_start: bool,
    /// Text values of the events read so far, not yet estimated.
    text: TextBuf,
    /// Most events of a stream begin with the same bytes up to their text (`data: {"id":...,
    /// "choices":[{"index":0,"delta":{"content":"`): the scan resumes there when an event does.
    prefix: Prefix,
    cap: usize,
    dropped: u64,
}

impl StreamScanner {
    /// A scanner whose events are capped at `max_event_bytes` (longer ones are skipped and counted).
    pub fn with_cap(max_event_bytes: usize) -> Self {
        Self { cap: max_event_bytes, ..Self::default() }
    }

    /// Events skipped because they exceeded the cap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes held now (an event split at the last chunk's end).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Bytes of text collected and not yet taken.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Takes the text collected so far (the text values of the events without usage, concatenated).
    pub fn take_text(&mut self) -> Vec<u8> {
        self.text.take()
    }

    /// Feeds a chunk; calls `on_usage(event name, data)` for each complete event that may carry usage
    /// (its data lines joined as [`SseParser`] joins them; the name is empty when the event has none).
    pub fn feed(&mut self, chunk: &[u8], on_usage: &mut dyn FnMut(&[u8], &[u8])) {
        self.feed_with(chunk, on_usage, &mut NoEnds);
    }

    /// [`StreamScanner::feed`], also recording where each event of the chunk ends (see [`Frames`]):
    /// the usage-chunk filter's framing, from the same scan.
    pub(crate) fn feed_framed(&mut self, chunk: &[u8], on_usage: &mut dyn FnMut(&[u8], &[u8]), ends: &mut Frames) {
        self.feed_with(chunk, on_usage, ends);
    }

    #[inline(always)]
    fn feed_with<E: Ends>(&mut self, chunk: &[u8], on_usage: &mut dyn FnMut(&[u8], &[u8]), ends: &mut E) {
        let mut rest = chunk;
        loop {
            if self.skipping {
                match self.skip(rest) {
                    Some(at) => {
                        rest = rest.get(at..).unwrap_or(&[]);
                        ends.ended(chunk.len() - rest.len(), false);
                    }
                    None => return,
                }
            }
            if self.held.is_empty() {
                break;
            }
            match self.complete_held(rest, on_usage, E::ON) {
                Some((after, ended)) => {
                    if let Some(plain) = ended {
                        ends.ended(chunk.len() - after.len(), plain);
                    }
                    rest = after;
                }
                None => return,
            }
        }
        while !rest.is_empty() {
            match self.fast(rest) {
                Fast::Event(end, text_end) => {
                    if E::ON {
                        let plain = self.fast_plain(rest, text_end, end);
                        ends.ended(chunk.len() - rest.len() + end, plain);
                    }
                    rest = rest.get(end..).unwrap_or(&[]);
                    continue;
                }
                // The common event cut by the chunk's end: held unscanned, to be read whole (by the
                // same fast path) when the rest of it comes.
                Fast::Cut => {
                    self.hold(rest);
                    return;
                }
                Fast::Other => {}
            }
            match self.run(rest) {
                Some(end) => {
                    self.event(rest, end, on_usage);
                    ends.ended(chunk.len() - rest.len() + end, false);
                    rest = rest.get(end..).unwrap_or(&[]);
                }
                None => {
                    self.hold(rest);
                    return;
                }
            }
        }
    }

    /// Goes on with the held event over the bytes of `rest`, added a piece at a time (its end is usually
    /// near; the scan resumes where it stopped, so no byte is scanned twice). `Some(the bytes after
    /// it, and `Some(plain)` when it ended: see [`Frames`]; told only `if framing`)` when it ended or
    /// outgrew the cap; `None` when `rest` was all taken and it is still held.
    fn complete_held<'c>(
        &mut self,
        rest: &'c [u8],
        on_usage: &mut dyn FnMut(&[u8], &[u8]),
        framing: bool,
    ) -> Option<(&'c [u8], Option<bool>)> {
        let before = self.held.len();
        let mut held = std::mem::take(&mut self.held);
        let (mut taken, mut step) = (0, 256);
        loop {
            let upto = (taken + step).min(rest.len());
            held.extend_from_slice(rest.get(taken..upto).unwrap_or(&[]));
            taken = upto;
            let fast = if self.at.begun { None } else { self.fast_event(&held) };
            let ended = match fast {
                Some((end, text_end)) => Some((end, framing && self.fast_plain(&held, text_end, end))),
                None => self.run(&held).map(|end| (end, false)),
            };
            if let Some((end, plain)) = ended {
                if fast.is_none() {
                    self.event(&held, end, on_usage);
                }
                held.clear();
                self.held = held;
                return Some((rest.get(end.saturating_sub(before)..).unwrap_or(&[]), Some(plain)));
            }
            if held.len() > self.cap {
                self.held = held;
                self.check_cap();
                return Some((rest.get(taken..).unwrap_or(&[]), None));
            }
            if taken == rest.len() {
                self.held = held;
                return None;
            }
            step *= 2;
        }
    }

    /// Ends the stream: an event still pending (no blank line after it) is read too.
    pub fn finish(&mut self, on_usage: &mut dyn FnMut(&[u8], &[u8])) {
        if !self.skipping && !self.held.is_empty() {
            let mut held = std::mem::take(&mut self.held);
            held.extend_from_slice(b"\n\n");
            if let Some(end) = self.run(&held) {
                self.event(&held, end.min(held.len() - 2), on_usage);
            }
        }
        self.held = Vec::new();
        self.at = Progress::default();
        self.found = DataScan::default();
        self.skipping = false;
    }

    /// The common event, whole in `ev`: the same bytes as the remembered prefix, then the rest of its
    /// data line without usage, then a blank line (`\n\n`). Its text is kept; `Some(its end)`.
    /// `None` (and nothing changed) for any other event.
    /// `Some((its end, where its first text value ends))`.
    #[inline(always)]
    fn fast_event(&mut self, ev: &[u8]) -> Option<(usize, usize)> {
        match self.fast(ev) {
            Fast::Event(end, text_end) => Some((end, text_end)),
            _ => None,
        }
    }

    /// Whether the common event `ev[..end]` whose first text value ends at `text_end` is plain (see
    /// [`Frames`]): the remembered prefix is simple, and the rest of its line (before `\n\n`) holds
    /// no backslash.
    #[inline(always)]
    fn fast_plain(&self, ev: &[u8], text_end: usize, end: usize) -> bool {
        self.prefix.simple && !has_backslash(ev, text_end + 1, end.saturating_sub(2))
    }

    /// Holds `rest` (the start of an event the chunk's end cut) until more bytes come.
    fn hold(&mut self, rest: &[u8]) {
        if self.held.capacity() == 0 {
            // Held again at most chunks' ends: room for a chunk after it.
            self.held.reserve(rest.len() + 4096);
        }
        self.held.extend_from_slice(rest);
        self.check_cap();
    }

    /// [`StreamScanner::fast_event`], telling apart an event that begins as the common one but whose
    /// bytes end before its line and blank line do ([`Fast::Cut`]: nothing changed either).
    #[inline(always)]
    fn fast(&mut self, ev: &[u8]) -> Fast {
        let k = self.prefix.bytes.len();
        if self.after_cr || !self.prefix.plain || k == 0 || !starts_with(ev, &self.prefix.bytes) {
            return Fast::Other;
        }
        // The text value the prefix ends in, then the rest of the line.
        let text_end = match string_end(ev, k) {
            Some(Ok(end)) => end,
            None if ev.len() < self.cap => return Fast::Cut,
            _ => return Fast::Other,
        };
        let found = &mut self.found;
        let scanned = scan_data(ev, self.prefix.value, text_end + 1, None, false, found);
        let end = match scanned {
            Some(p) if !found.usage && p + 2 <= self.cap && ev.get(p..p + 2) == Some(b"\n\n") => p + 2,
            _ => {
                let cut = !found.usage
                    && ev.len() < self.cap
                    && match scanned {
                        None => true,
                        // The line ended; its blank line may be the next bytes still to come.
                        Some(p) => ev.len() <= p + 1 && ev.get(p) != Some(&b'\r'),
                    };
                found.text.clear();
                found.usage = false;
                return if cut { Fast::Cut } else { Fast::Other };
            }
        };
        self.text.append(ev, k, text_end);
        for &(a, b) in &found.text {
            self.text.append(ev, a, b);
        }
        found.text.clear();
        Fast::Event(end, text_end)
    }

    /// Scans the event that starts at `ev[0]` from where it was left. `Some(end)` (after its blank
    /// line) when it ended; `None` when the bytes ended first.
    fn run(&mut self, ev: &[u8]) -> Option<usize> {
        if !self.at.begun {
            self.at.begun = true;
            self.at.start_cr = self.after_cr;
            let k = self.prefix.bytes.len();
            if !self.after_cr && k > 0 && ev.len() <= k && self.prefix.bytes.starts_with(ev) {
                // Too few bytes yet to tell whether the event begins as the remembered one: wait.
                self.at.begun = false;
                return None;
            }
            if !self.after_cr && k > 0 && starts_with(ev, &self.prefix.bytes) {
                // The same bytes as the remembered event up to its first text value: the same scan
                // state there, so the scan goes on from it.
                self.at = self.prefix.at;
                let (ls, v) = (self.at.line, self.prefix.value);
                match scan_data(ev, v, v, Some(k), false, &mut self.found) {
                    Some(p) => self.data_line(ev, v, p),
                    None => {
                        // The line is incomplete: read again when whole.
                        self.found.text.clear();
                        self.found.usage = false;
                        self.at.partial = true;
                        self.at.pos = ls;
                    }
                }
            }
        }
        loop {
            let ls = self.at.line;
            if !self.at.partial {
                let &b = ev.get(ls)?;
                if self.after_cr {
                    self.after_cr = false;
                    if b == b'\n' {
                        self.at.line = ls + 1;
                        continue;
                    }
                }
                if b == b'\n' || b == b'\r' {
                    // A blank line: the event ends.
                    self.after_cr = b == b'\r';
                    return Some(ls + 1);
                }
                // The common line, `data: {...}`, is scanned as its end is searched.
                if ev.get(ls..ls + 5) == Some(b"data:") {
                    if let Some(&space) = ev.get(ls + 5) {
                        let v = ls + 5 + usize::from(space == b' ');
                        let mark = self.found.text.len();
                        let usage = self.found.usage;
                        if let Some(p) = scan_data(ev, v, v, None, false, &mut self.found) {
                            self.remember(ev, v, mark);
                            self.data_line(ev, v, p);
                            continue;
                        }
                        // Incomplete: read again when whole.
                        self.found.text.truncate(mark);
                        self.found.usage = usage;
                    }
                }
                self.at.partial = true;
                self.at.pos = ls;
            }
            let Some(p) = line_end(ev, self.at.pos) else {
                self.at.pos = ev.len();
                return None;
            };
            self.at.partial = false;
            let line = ev.get(ls..p).unwrap_or(&[]);
            let (field, v) = match line.iter().position(|&c| c == b':') {
                Some(i) => (line.get(..i).unwrap_or(&[]), ls + i + 1 + usize::from(line.get(i + 1) == Some(&b' '))),
                None => (line, p),
            };
            match field {
                b"data" => {
                    let mark = self.found.text.len();
                    scan_data(ev.get(..p).unwrap_or(&[]), v, v, None, true, &mut self.found);
                    self.remember(ev, v, mark);
                    self.data_line(ev, v, p);
                }
                b"event" => {
                    self.at.name = (v, p);
                    self.line_ended(ev, p);
                }
                _ => self.line_ended(ev, p),
            }
        }
    }

    /// A `data:` line whose value is `ev[v..p]` ended at `p`.
    fn data_line(&mut self, ev: &[u8], v: usize, p: usize) {
        if self.at.data_lines == 0 {
            self.at.data = (v, p);
        }
        self.at.data_lines += 1;
        self.line_ended(ev, p);
    }

    fn line_ended(&mut self, ev: &[u8], p: usize) {
        self.after_cr = ev.get(p) == Some(&b'\r');
        self.at.line = p + 1;
    }

    /// After a data line (value from `v`) was scanned with `mark` text values before it: when its
    /// text is the event's first, and no usage came before it, the bytes up to that text and the scan
    /// state there are remembered for the next events.
    fn remember(&mut self, ev: &[u8], v: usize, mark: usize) {
        if mark != 0 || self.at.start_cr || self.found.usage_before_text {
            return;
        }
        let Some(&(k, _)) = self.found.text.first() else { return };
        let Some(head) = ev.get(..k) else { return };
        if self.prefix.bytes != head {
            self.prefix.bytes.clear();
            self.prefix.bytes.extend_from_slice(head);
            // The same bytes up to the text give the same lines and value start: decided once.
            self.prefix.simple = self.at.data_lines == 0 && !has_backslash(head, v, head.len());
        }
        self.prefix.at = Progress { partial: false, pos: 0, ..self.at };
        self.prefix.value = v;
        let name = ev.get(self.at.name.0..self.at.name.1).unwrap_or(&[]);
        self.prefix.plain = !USAGE_EVENTS.contains(&name);
    }

    /// The event `ev[..end]` ended: its text is kept, or it is handed over when it may carry usage.
    fn event(&mut self, ev: &[u8], end: usize, on_usage: &mut dyn FnMut(&[u8], &[u8])) {
        let at = std::mem::take(&mut self.at);
        let usage = std::mem::replace(&mut self.found.usage, false);
        if end > self.cap {
            self.dropped += 1;
            self.found.text.clear();
            return;
        }
        if at.data_lines == 0 {
            self.found.text.clear();
            return;
        }
        let name = ev.get(at.name.0..at.name.1).unwrap_or(&[]);
        if usage || (!name.is_empty() && USAGE_EVENTS.contains(&name)) {
            self.found.text.clear();
            if at.data_lines == 1 {
                on_usage(name, ev.get(at.data.0..at.data.1).unwrap_or(&[]));
            } else {
                // Several data lines: joined as the parser joins them.
                let mut parser = SseParser::with_cap(usize::MAX);
                parser.feed(ev.get(..end).unwrap_or(&[]), &mut |_, data| on_usage(name, data));
                parser.finish(&mut |_, data| on_usage(name, data));
            }
            return;
        }
        for &(a, b) in &self.found.text {
            self.text.append(ev, a, b);
        }
        self.found.text.clear();
    }

    /// The held event outgrew the cap: dropped, and the rest of it skipped.
    fn check_cap(&mut self) {
        if self.held.len() <= self.cap {
            return;
        }
        self.dropped += 1;
        self.held = Vec::new();
        self.found.text.clear();
        self.found.usage = false;
        self.skipping = true;
        self.skip_line_start = !self.at.partial;
        self.at = Progress::default();
    }

    /// Skips the bytes of an over-long event: `Some(position after its end)`, `None` when the chunk
    /// ends first.
    fn skip(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut i = 0;
        loop {
            let &b = chunk.get(i)?;
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    i += 1;
                    continue;
                }
            }
            if self.skip_line_start && (b == b'\n' || b == b'\r') {
                self.after_cr = b == b'\r';
                self.skipping = false;
                return Some(i + 1);
            }
            match line_end(chunk, i) {
                Some(p) => {
                    self.after_cr = chunk.get(p) == Some(&b'\r');
                    self.skip_line_start = true;
                    i = p + 1;
                }
                None => {
                    self.skip_line_start = false;
                    return None;
                }
            }
        }
    }
}
