//! A JSON document that borrows its strings from the request or response bytes.
//!
//! `serde_json::Value` copies every string into its own allocation and builds a sorted map per
//! object; the filter only reads a body, so [`Json`] keeps strings without escapes as slices of the
//! input and objects as small vectors of pairs. It has the reading API of `Value` that the filter
//! uses (`get`, `as_str`, `as_u64`, ...) with the same answers: a repeated key keeps its last value,
//! numbers convert like `Value`'s, and serde_json's nesting limit (128) applies while parsing.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::bytes::{find_either, HIGH};

/// A parsed JSON value borrowing from its input.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string (borrowed when it had no escapes).
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object: its keys once each, in first-seen order, with the last value given.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// A JSON number as serde_json reads it: non-negative integers, negative integers, floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer >= 0.
    PosInt(u64),
    /// An integer < 0.
    NegInt(i64),
    /// Anything with a fraction or exponent.
    Float(f64),
}

/// The `null` every missing field reads as.
pub static NULL: Json<'static> = Json::Null;

impl<'a> Json<'a> {
    /// Parses a whole document (`None` for anything that is not JSON): one pass over the bytes that
    /// accepts exactly what `serde_json::from_slice` accepts and builds the tree its [`Deserialize`]
    /// implementation builds (`tests/core/json_scan.rs` compares the two).
    pub fn parse(bytes: &'a [u8]) -> Option<Json<'a>> {
        // A JSON document is UTF-8 throughout (outside strings only ASCII is allowed, and serde_json
        // checks every string), so one check up front stands for serde_json's per-string checks.
        let text = std::str::from_utf8(bytes).ok()?;
        let mut p = Scanner { text, bytes, at: 0 };
        p.skip_ws();
        let root = p.value(MAX_DEPTH)?;
        p.skip_ws();
        (p.at == bytes.len()).then_some(root)
    }

    /// Checks a whole document exactly as [`Json::parse`] does but builds only the top-level member
    /// `key` of an object: an object holding that member (its last value) when the document is an
    /// object that has it, an empty object when it lacks it, `Json::Null` for any other document,
    /// `None` when it is not JSON. For reading one field of a large body (a response's `usage`).
    pub fn parse_member(bytes: &'a [u8], key: &'a str) -> Option<Json<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut p = Scanner { text, bytes, at: 0 };
        p.skip_ws();
        let doc = if p.peek() == Some(b'{') {
            p.object(MAX_DEPTH - 1, Some(key))?
        } else {
            p.skip_value(MAX_DEPTH)?;
            Json::Null
        };
        p.skip_ws();
        (p.at == bytes.len()).then_some(doc)
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The fields of an object.
    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Json<'a>)]> {
        match self {
            Json::Object(fields) => Some(fields),
            _ => None,
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A non-negative integer (as `Value::as_u64`: floats are not integers).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(Number::PosInt(n)) => Some(*n),
            Json::Number(Number::NegInt(n)) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// The same document as a `serde_json::Value` (for comparisons and debugging; a float that is not
    /// finite, which JSON cannot carry, becomes `null`).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(Number::PosInt(n)) => Value::from(*n),
            Json::Number(Number::NegInt(n)) => Value::from(*n),
            Json::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect()),
        }
    }

    /// True when `other` is the same tree down to the representation: the same variants, fields in
    /// the same order, floats with the same bits, strings borrowed or owned alike (`==` takes `-0.0`
    /// for `0.0` and ignores how a string is held).
    pub fn identical(&self, other: &Json<'_>) -> bool {
        let same_str = |a: &Cow<'_, str>, b: &Cow<'_, str>| {
            a == b && matches!(a, Cow::Borrowed(_)) == matches!(b, Cow::Borrowed(_))
        };
        match (self, other) {
            (Json::Null, Json::Null) => true,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Number(Number::Float(a)), Json::Number(Number::Float(b))) => a.to_bits() == b.to_bits(),
            (Json::Number(a), Json::Number(b)) => a == b,
            (Json::String(a), Json::String(b)) => same_str(a, b),
            (Json::Array(a), Json::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.identical(y)),
            (Json::Object(a), Json::Object(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| same_str(ka, kb) && va.identical(vb))
            }
            _ => false,
        }
    }

    /// Any number as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(Number::PosInt(n)) => Some(*n as f64),
            Json::Number(Number::NegInt(n)) => Some(*n as f64),
            Json::Number(Number::Float(f)) => Some(*f),
            _ => None,
        }
    }
}

/// serde_json's nesting limit: its counter starts at 128 and a container that takes it to 0 is an
/// error, so at most 127 arrays and objects can be open at once.
const MAX_DEPTH: u8 = 128;

/// The single-pass reader behind [`Json::parse`]. Its grammar is serde_json's (`de.rs` and
/// `read.rs` of serde_json 1.x): whitespace is space, tab, LF and CR; strings reject control
/// characters and unknown escapes and need `\u` surrogates paired; numbers have no leading zeros, no
/// `+`, at least one digit after `.` and in an exponent; integers beyond `u64` / `i64` and anything
/// with a fraction or exponent become floats (read by serde_json itself, so the value and the
/// out-of-range rejection are its own); `-0` is a float.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The value starting at the current byte (whitespace already skipped). `depth` is serde_json's
    /// remaining-depth counter.
    fn value(&mut self, depth: u8) -> Option<Json<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string().map(Json::String)
            }
            b'{' => self.object(depth.checked_sub(1).filter(|d| *d > 0)?, None),
            b'[' => self.array(depth.checked_sub(1).filter(|d| *d > 0)?),
            b't' => self.literal(b"true", Json::Bool(true)),
            b'f' => self.literal(b"false", Json::Bool(false)),
            b'n' => self.literal(b"null", Json::Null),
            b'-' | b'0'..=b'9' => self.number().map(Json::Number),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], value: Json<'a>) -> Option<Json<'a>> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word).then(|| {
            self.at = end;
            value
        })
    }

    fn array(&mut self, depth: u8) -> Option<Json<'a>> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(Json::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_ws();
                }
                b']' => {
                    self.at += 1;
                    return Some(Json::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// The object whose `{` is current; with `only`, every member but that one is checked and not
    /// built (see [`Json::parse_member`]).
    fn object(&mut self, depth: u8, only: Option<&'a str>) -> Option<Json<'a>> {
        self.at += 1;
        let mut fields: Vec<(Cow<'a, str>, Json<'a>)> = Vec::new();
        self.skip_ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(Json::Object(fields));
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            self.at += 1;
            let key = self.string()?;
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_ws();
            match only {
                Some(name) if key != name => self.skip_value(depth)?,
                _ => {
                    let key = only.map_or(key, Cow::Borrowed);
                    let value = self.value(depth)?;
                    // A repeated key keeps its last value, as serde_json's map does.
                    match fields.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => fields.push((key, value)),
                    }
                }
            }
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_ws();
                }
                b'}' => {
                    self.at += 1;
                    return Some(Json::Object(fields));
                }
                _ => return None,
            }
        }
    }

    /// The string whose opening quote was just passed: borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        let stop = self.string_stop()?;
        if stop == b'"' {
            let s = self.text.get(start..self.at)?;
            self.at += 1;
            return Some(Cow::Borrowed(s));
        }
        let mut out = String::with_capacity(self.at - start + 16);
        let (mut run, mut stop) = (start, stop);
        loop {
            out.push_str(self.text.get(run..self.at)?);
            self.at += 1;
            if stop == b'"' {
                return Some(Cow::Owned(out));
            }
            out.push(self.escape()?);
            run = self.at;
            stop = self.string_stop()?;
        }
    }

    /// Moves to the next quote, backslash or control character of a string and returns it (`None` at
    /// the end of the input or on a control character).
    #[inline(always)]
    fn string_stop(&mut self) -> Option<u8> {
        // Most strings (keys, short values) end within their first eight bytes: one load finds the
        // end.
        if let Some(w) = self.bytes.get(self.at..).and_then(<[u8]>::first_chunk::<8>).map(|w| u64::from_le_bytes(*w)) {
            let hits = string_stops(w);
            if hits != 0 {
                let bit = hits.trailing_zeros();
                self.at += (bit / 8) as usize;
                return stop_byte((w >> (bit & !7)) as u8);
            }
            self.at += 8;
        }
        let rest = self.bytes.get(self.at..)?;
        let mut n = 0;
        // Sixteen bytes a round, then eight, then one at a time.
        let mut pairs = rest.chunks_exact(16);
        for pair in pairs.by_ref() {
            let (a, b) = pair.split_at(8);
            let (a, b) = (word(a), word(b));
            let hits = string_stops(a) | string_stops(b);
            if hits != 0 {
                let first = string_stops(a);
                n += if first != 0 { first.trailing_zeros() / 8 } else { 8 + string_stops(b).trailing_zeros() / 8 }
                    as usize;
                self.at += n;
                return stop_byte(self.peek()?);
            }
            n += 16;
        }
        let tail = pairs.remainder();
        if let Some(eight) = tail.get(..8) {
            let hits = string_stops(word(eight));
            if hits != 0 {
                self.at += n + (hits.trailing_zeros() / 8) as usize;
                return stop_byte(self.peek()?);
            }
            n += 8;
        }
        self.at += n;
        loop {
            let b = self.peek()?;
            if b == b'"' || b == b'\\' || b < 0x20 {
                return stop_byte(b);
            }
            self.at += 1;
        }
    }

    /// The character of the escape after a backslash.
    fn escape(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let n = self.hex4()?;
                match n {
                    // A trailing surrogate first, or a leading one not followed by `\u` and a
                    // trailing one: serde_json rejects both when it reads a string.
                    0xDC00..=0xDFFF => return None,
                    0xD800..=0xDBFF => {
                        if self.peek()? != b'\\' {
                            return None;
                        }
                        self.at += 1;
                        if self.peek()? != b'u' {
                            return None;
                        }
                        self.at += 1;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        char::from_u32((((n - 0xD800) << 10) | (low - 0xDC00)) + 0x1_0000)?
                    }
                    _ => char::from_u32(n)?,
                }
            }
            _ => return None,
        };
        Some(ch)
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Option<u32> {
        let end = self.at.checked_add(4)?;
        let digits = self.bytes.get(self.at..end)?;
        let mut n = 0u32;
        for &d in digits {
            n = (n << 4) | char::from(d).to_digit(16)?;
        }
        self.at = end;
        Some(n)
    }

    /// Checks the value starting at the current byte exactly as [`Scanner::value`] does, building
    /// nothing.
    fn skip_value(&mut self, depth: u8) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.skip_string()
            }
            b'{' => self.skip_container(depth.checked_sub(1).filter(|d| *d > 0)?, b'}'),
            b'[' => self.skip_container(depth.checked_sub(1).filter(|d| *d > 0)?, b']'),
            b't' => self.literal(b"true", Json::Null).map(drop),
            b'f' => self.literal(b"false", Json::Null).map(drop),
            b'n' => self.literal(b"null", Json::Null).map(drop),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// An array or object (its opening byte is current) checked and not built.
    fn skip_container(&mut self, depth: u8, close: u8) -> Option<()> {
        self.at += 1;
        self.skip_ws();
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            if close == b'}' {
                if self.peek()? != b'"' {
                    return None;
                }
                self.at += 1;
                self.skip_string()?;
                self.skip_ws();
                if self.peek()? != b':' {
                    return None;
                }
                self.at += 1;
                self.skip_ws();
            }
            self.skip_value(depth)?;
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.skip_ws();
                }
                b if b == close => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string (its opening quote passed) checked and not built.
    fn skip_string(&mut self) -> Option<()> {
        loop {
            match self.string_stop()? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                _ => {
                    self.at += 1;
                    self.escape()?;
                }
            }
        }
    }

    /// A number checked (range included) and not built: one that cannot reach serde_json's float
    /// overflow (at most 300 integer digits and an exponent of at most three digits... kept to two)
    /// is checked by its grammar alone, any other is read as [`Scanner::number`] reads it.
    fn skip_number(&mut self) -> Option<()> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int_start = self.at;
        match self.peek()? {
            b'0' => {
                self.at += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        let int_digits = self.at - int_start;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        let mut exp_digits = 0;
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            let first = self.at;
            self.digits()?;
            exp_digits = self.at - first;
        }
        // Below 10^(300 + 99): finite for any reading of the digits.
        if int_digits <= 200 && exp_digits <= 2 {
            return Some(());
        }
        self.at = start;
        self.number().map(drop)
    }

    /// A number, by serde_json's grammar and conversions.
    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let mut significand: u64 = 0;
        // Too many digits for a u64: serde_json reads the number as a float.
        let mut long = false;
        match self.peek()? {
            b'0' => {
                self.at += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    if !long {
                        match significand.checked_mul(10).and_then(|s| s.checked_add(u64::from(d - b'0'))) {
                            Some(s) => significand = s,
                            None => long = true,
                        }
                    }
                    self.at += 1;
                }
            }
            _ => return None,
        }
        let mut float = long;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
            float = true;
        }
        if float {
            // serde_json's own float reading (its rounding, and its rejection of out-of-range
            // numbers), on the number's text alone.
            let text = self.text.get(start..self.at)?;
            return serde_json::from_str::<f64>(text).ok().map(Number::Float);
        }
        Some(if !negative {
            Number::PosInt(significand)
        } else {
            // As serde_json: `-0` and magnitudes beyond i64 are floats.
            let n = (significand as i64).wrapping_neg();
            if n >= 0 {
                Number::Float(-(significand as f64))
            } else {
                Number::NegInt(n)
            }
        })
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let first = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        (self.at > first).then_some(())
    }
}

/// A string's stop byte: a quote or a backslash (`None` for a control character).
#[inline(always)]
fn stop_byte(b: u8) -> Option<u8> {
    (b == b'"' || b == b'\\').then_some(b)
}

/// Flags the first quote, backslash or control character (below 0x20) of a word: the lowest flag is
/// exact, flags above it may be false (a borrow carries up from a hit).
#[inline(always)]
fn string_stops(w: u64) -> u64 {
    // XOR with 0x02 maps the quote (0x22) to 0x20 and the control characters onto themselves, and no
    // other byte below 0x21: one "below 0x21" test finds both. A zero byte of `w ^ '\\'` is a
    // backslash.
    let q = w ^ (0x02 * ONES);
    let b = w ^ (u64::from(b'\\') * ONES);
    ((q.wrapping_sub(0x21 * ONES) & !q) | (b.wrapping_sub(ONES) & !b)) & HIGH
}

/// Eight bytes as a little-endian word (a shorter slice is zero-padded; callers pass eight).
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    if let (Some(dst), Some(src)) = (w.get_mut(..n), bytes.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

const ONES: u64 = 0x0101_0101_0101_0101;

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(if v < 0 { Number::NegInt(v) } else { Number::PosInt(v as u64) }))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Number::PosInt(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Number::Float(v)))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut fields: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            let value: Json<'de> = map.next_value()?;
            // A repeated key keeps its last value, as serde_json's map does.
            match fields.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => fields.push((key, value)),
            }
        }
        Ok(Json::Object(fields))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// An object key, borrowed when it had no escapes.
struct Key<'a>(Cow<'a, str>);

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

/// The top-level members of a JSON object as spans of its bytes, for rewriting a request body in
/// place (the `degrade` action): members are removed, replaced or added and the rest of the client's
/// bytes are kept as they were, with no parse into a tree and no re-serialisation. Read with the
/// object semantics of [`Json`]: a repeated key keeps its last value (the earlier ones are dropped
/// when the object is written again).
#[derive(Debug)]
pub struct Members<'a> {
    body: &'a [u8],
    items: Vec<Member<'a>>,
}

#[derive(Debug)]
struct Member<'a> {
    /// The key's text (decoded when it had escapes).
    name: Cow<'a, str>,
    /// The key as written, quotes included.
    key: Cow<'a, [u8]>,
    /// The value's bytes; `None` once removed.
    value: Option<Cow<'a, [u8]>>,
}

impl<'a> Members<'a> {
    /// The members of `body`, which must be a JSON object (`None` when its structure is not one; the
    /// body is expected to have been parsed already, so strings and numbers are not validated here).
    pub fn of(body: &'a [u8]) -> Option<Members<'a>> {
        let mut items: Vec<Member<'a>> = Vec::new();
        let mut i = skip_ws(body, 0);
        if body.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(body, i + 1);
        if body.get(i) == Some(&b'}') {
            i += 1;
        } else {
            loop {
                if body.get(i) != Some(&b'"') {
                    return None;
                }
                let key_end = string_end(body, i)?;
                let key = body.get(i..key_end)?;
                let raw = body.get(i + 1..key_end - 1)?;
                let name = if raw.contains(&b'\\') {
                    Cow::Owned(serde_json::from_slice::<String>(key).ok()?)
                } else {
                    Cow::Borrowed(std::str::from_utf8(raw).ok()?)
                };
                i = skip_ws(body, key_end);
                if body.get(i) != Some(&b':') {
                    return None;
                }
                let start = skip_ws(body, i + 1);
                let end = value_end(body, start)?;
                // A repeated key: the last one holds.
                for earlier in items.iter_mut().filter(|m| m.name == name) {
                    earlier.value = None;
                }
                items.push(Member { name, key: Cow::Borrowed(key), value: Some(Cow::Borrowed(body.get(start..end)?)) });
                i = skip_ws(body, end);
                match body.get(i) {
                    Some(b',') => i = skip_ws(body, i + 1),
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        (skip_ws(body, i) == body.len()).then_some(Members { body, items })
    }

    fn live(&self, name: &str) -> Option<&Member<'a>> {
        self.items.iter().find(|m| m.value.is_some() && m.name == name)
    }

    /// True when the object has the key.
    pub fn contains_key(&self, name: &str) -> bool {
        self.live(name).is_some()
    }

    /// The value of a key, read (`None` when absent or not JSON).
    pub fn get(&self, name: &str) -> Option<Json<'_>> {
        self.live(name).and_then(|m| m.value.as_deref()).and_then(Json::parse)
    }

    /// Removes a key; true when it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.items.iter_mut().find(|m| m.value.is_some() && m.name == name) {
            Some(m) => {
                m.value = None;
                true
            }
            None => false,
        }
    }

    /// Sets a key to a value given as JSON text (replaced where it was, else added at the end).
    pub fn insert(&mut self, name: &str, value: Vec<u8>) {
        match self.items.iter_mut().find(|m| m.value.is_some() && m.name == name) {
            Some(m) => m.value = Some(Cow::Owned(value)),
            None => {
                let key = serde_json::to_vec(name).unwrap_or_else(|_| format!("\"{name}\"").into_bytes());
                self.items.push(Member {
                    name: Cow::Owned(name.to_string()),
                    key: Cow::Owned(key),
                    value: Some(Cow::Owned(value)),
                });
            }
        }
    }

    /// The object written out: its members in order, each key and kept value as the client wrote
    /// them.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 32);
        out.push(b'{');
        for (key, value) in self.items.iter().filter_map(|m| m.value.as_deref().map(|v| (&m.key, v))) {
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            out.push(b':');
            out.extend_from_slice(value);
        }
        out.push(b'}');
        out
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the string whose opening quote is at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += find_either(b.get(j..)?, b'"', b'\\')?;
        if b.get(j) == Some(&b'"') {
            return Some(j + 1);
        }
        j += 2;
    }
}

/// The index just past the value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let rest = b.get(i..)?;
            let n = rest.iter().position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'));
            let n = n.unwrap_or(rest.len());
            (n > 0).then_some(i + n)
        }
    }
}
