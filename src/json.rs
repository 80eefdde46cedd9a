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

use crate::bytes::find_either;

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
    /// Parses a whole document (`None` for anything that is not JSON).
    pub fn parse(bytes: &'a [u8]) -> Option<Json<'a>> {
        serde_json::from_slice(bytes).ok()
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
