//! The rate limit protocol on the wire, by hand: protobuf encoding of
//! `envoy.service.ratelimit.v3.RateLimitRequest` and decoding of `RateLimitResponse`, the messages of
//! `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` served by envoyproxy/ratelimit and
//! Limitador. Only the fields distill-guard uses are modelled; unknown fields of a response are skipped.
//!
//! The bytes are the bare message: proxy-wasm's `dispatch_grpc_call` takes the serialized request and
//! Envoy's gRPC client adds the 5-byte gRPC frame; the answer (`get_grpc_call_response_body`) is the bare
//! response message too.
//!
//! Field numbers (envoy/service/ratelimit/v3/rls.proto, envoy/extensions/common/ratelimit/v3/ratelimit.proto):
//! `RateLimitRequest { domain = 1; descriptors = 2; hits_addend = 3 (uint32) }`,
//! `RateLimitDescriptor { entries = 1 { key = 1; value = 2 }; hits_addend = 3 (UInt64Value { value = 1 }) }`,
//! `RateLimitResponse { overall_code = 1; statuses = 2 }`,
//! `DescriptorStatus { code = 1; current_limit = 2 { requests_per_unit = 1; unit = 2; name = 3 };
//! limit_remaining = 3; duration_until_reset = 4 { seconds = 1; nanos = 2 } }`.

use std::fmt;

/// The gRPC service and method of the rate limit protocol.
pub const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
/// The unary method every rate limit service implements.
pub const METHOD: &str = "ShouldRateLimit";

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One `(key, value)` entry of a descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
}

/// A descriptor: its entries and its own `hits_addend` (`Some(0)` = check without charging;
/// `None` = the request's, which envoyproxy/ratelimit reads as 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub entries: Vec<Entry>,
    pub hits_addend: Option<u64>,
}

impl Descriptor {
    /// A descriptor from `(key, value)` pairs charging `hits`.
    pub fn new(entries: &[(&str, &str)], hits: u64) -> Self {
        Descriptor {
            entries: entries.iter().map(|(k, v)| Entry { key: (*k).into(), value: (*v).into() }).collect(),
            hits_addend: Some(hits),
        }
    }
}

/// `RateLimitRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitRequest {
    pub domain: String,
    pub descriptors: Vec<Descriptor>,
}

/// A response or descriptor code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Unknown,
    Ok,
    OverLimit,
    /// A value this build does not know.
    Other(u64),
}

impl Code {
    fn from_wire(v: u64) -> Code {
        match v {
            0 => Code::Unknown,
            1 => Code::Ok,
            2 => Code::OverLimit,
            other => Code::Other(other),
        }
    }
}

/// The unit of a limit (`RateLimitResponse.RateLimit.Unit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Unknown,
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
    Week,
    Other(u64),
}

impl Unit {
    fn from_wire(v: u64) -> Unit {
        match v {
            0 => Unit::Unknown,
            1 => Unit::Second,
            2 => Unit::Minute,
            3 => Unit::Hour,
            4 => Unit::Day,
            5 => Unit::Month,
            6 => Unit::Year,
            7 => Unit::Week,
            other => Unit::Other(other),
        }
    }
}

/// The limit that applied to a descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub requests_per_unit: u32,
    pub unit: Unit,
    pub name: String,
}

/// The answer for one descriptor, in the order the descriptors were sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorStatus {
    pub code: Code,
    /// `None` when no limit is configured for the descriptor.
    pub current_limit: Option<Limit>,
    pub limit_remaining: u32,
    /// Seconds until the window resets (0 if absent).
    pub seconds_until_reset: u64,
}

/// `RateLimitResponse` (headers, raw body, metadata and quota are skipped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitResponse {
    pub overall_code: Code,
    pub statuses: Vec<DescriptorStatus>,
}

/// Why a response could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The message ends inside a field.
    Truncated { message: &'static str },
    /// A varint longer than 10 bytes.
    VarintTooLong { message: &'static str },
    /// A field of the message has another wire type than the schema says.
    WireType { message: &'static str, field: u64, wire_type: u8 },
    /// A string field is not UTF-8.
    NotUtf8 { message: &'static str, field: u64 },
    /// A value does not fit its field.
    OutOfRange { message: &'static str, field: u64 },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { message } => write!(f, "{message}: message truncated"),
            WireError::VarintTooLong { message } => write!(f, "{message}: varint longer than 10 bytes"),
            WireError::WireType { message, field, wire_type } => {
                write!(f, "{message}: field {field} has wire type {wire_type}")
            }
            WireError::NotUtf8 { message, field } => write!(f, "{message}: field {field} is not UTF-8"),
            WireError::OutOfRange { message, field } => write!(f, "{message}: field {field} out of range"),
        }
    }
}

// ---- encoding ------------------------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, field: u64, wire_type: u8) {
    put_varint(out, (field << 3) | u64::from(wire_type));
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_tag(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

fn entry_len(e: &Entry) -> usize {
    let field = |len: usize| if len == 0 { 0 } else { 1 + varint_len(len as u64) + len };
    field(e.key.len()) + field(e.value.len())
}

fn descriptor_len(d: &Descriptor) -> usize {
    let entries: usize = d.entries.iter().map(|e| 1 + varint_len(entry_len(e) as u64) + entry_len(e)).sum();
    entries + d.hits_addend.map_or(0, |h| 2 + if h == 0 { 0 } else { 1 + varint_len(h) })
}

/// The request's protobuf bytes (proto3 rules: empty strings and zero scalars are omitted; a
/// `hits_addend` of `Some(0)` is sent as an empty wrapper, which means "check only").
pub fn encode_request(req: &RateLimitRequest) -> Vec<u8> {
    let size = 2 + req.domain.len() + req.descriptors.iter().map(|d| 4 + descriptor_len(d)).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    if !req.domain.is_empty() {
        put_bytes(&mut out, 1, req.domain.as_bytes());
    }
    for d in &req.descriptors {
        put_tag(&mut out, 2, LEN);
        put_varint(&mut out, descriptor_len(d) as u64);
        for e in &d.entries {
            put_tag(&mut out, 1, LEN);
            put_varint(&mut out, entry_len(e) as u64);
            if !e.key.is_empty() {
                put_bytes(&mut out, 1, e.key.as_bytes());
            }
            if !e.value.is_empty() {
                put_bytes(&mut out, 2, e.value.as_bytes());
            }
        }
        if let Some(h) = d.hits_addend {
            put_tag(&mut out, 3, LEN);
            if h == 0 {
                out.push(0);
            } else {
                put_varint(&mut out, (1 + varint_len(h)) as u64);
                put_tag(&mut out, 1, VARINT);
                put_varint(&mut out, h);
            }
        }
    }
    out
}

// ---- decoding ------------------------------------------------------------------------------------

/// A field read from a message: its number and its value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], message: &'static str) -> Self {
        Reader { bytes, pos: 0, message }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.bytes.get(self.pos).ok_or(WireError::Truncated { message: self.message })?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::VarintTooLong { message: self.message })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated { message: self.message })?;
        let out = self.bytes.get(self.pos..end).ok_or(WireError::Truncated { message: self.message })?;
        self.pos = end;
        Ok(out)
    }

    /// The next field, or `None` at the end of the message.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, WireError> {
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let (field, wire_type) = (tag >> 3, (tag & 7) as u8);
        let value = match wire_type {
            VARINT => Value::Varint(self.varint()?),
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated { message: self.message })?;
                Value::Bytes(self.take(n)?)
            }
            FIXED64 => {
                self.take(8)?;
                Value::Fixed
            }
            FIXED32 => {
                self.take(4)?;
                Value::Fixed
            }
            other => return Err(WireError::WireType { message: self.message, field, wire_type: other }),
        };
        Ok(Some((field, value)))
    }

    fn wrong(&self, field: u64, value: &Value) -> WireError {
        let wire_type = match value {
            Value::Varint(_) => VARINT,
            Value::Bytes(_) => LEN,
            Value::Fixed => FIXED64,
        };
        WireError::WireType { message: self.message, field, wire_type }
    }
}

fn u32_field(message: &'static str, field: u64, v: u64) -> Result<u32, WireError> {
    u32::try_from(v).map_err(|_| WireError::OutOfRange { message, field })
}

fn decode_limit(bytes: &[u8]) -> Result<Limit, WireError> {
    let mut r = Reader::new(bytes, "RateLimit");
    let mut limit = Limit { requests_per_unit: 0, unit: Unit::Unknown, name: String::new() };
    while let Some((field, value)) = r.field()? {
        match (field, &value) {
            (1, Value::Varint(v)) => limit.requests_per_unit = u32_field(r.message, field, *v)?,
            (2, Value::Varint(v)) => limit.unit = Unit::from_wire(*v),
            (3, Value::Bytes(b)) => {
                limit.name =
                    std::str::from_utf8(b).map_err(|_| WireError::NotUtf8 { message: r.message, field })?.to_string()
            }
            (1..=3, _) => return Err(r.wrong(field, &value)),
            _ => {}
        }
    }
    Ok(limit)
}

fn decode_duration_seconds(bytes: &[u8]) -> Result<u64, WireError> {
    let mut r = Reader::new(bytes, "Duration");
    let mut seconds = 0;
    while let Some((field, value)) = r.field()? {
        match (field, &value) {
            // int64 seconds; a negative duration (never sent for a reset) reads as 0
            (1, Value::Varint(v)) => seconds = if (*v as i64) < 0 { 0 } else { *v },
            (2, Value::Varint(_)) => {}
            (1 | 2, _) => return Err(r.wrong(field, &value)),
            _ => {}
        }
    }
    Ok(seconds)
}

fn decode_status(bytes: &[u8]) -> Result<DescriptorStatus, WireError> {
    let mut r = Reader::new(bytes, "DescriptorStatus");
    let mut status =
        DescriptorStatus { code: Code::Unknown, current_limit: None, limit_remaining: 0, seconds_until_reset: 0 };
    while let Some((field, value)) = r.field()? {
        match (field, &value) {
            (1, Value::Varint(v)) => status.code = Code::from_wire(*v),
            (2, Value::Bytes(b)) => status.current_limit = Some(decode_limit(b)?),
            (3, Value::Varint(v)) => status.limit_remaining = u32_field(r.message, field, *v)?,
            (4, Value::Bytes(b)) => status.seconds_until_reset = decode_duration_seconds(b)?,
            (1..=4, _) => return Err(r.wrong(field, &value)),
            _ => {}
        }
    }
    Ok(status)
}

/// Reads a `RateLimitResponse` from its protobuf bytes.
pub fn decode_response(bytes: &[u8]) -> Result<RateLimitResponse, WireError> {
    let mut r = Reader::new(bytes, "RateLimitResponse");
    let mut resp = RateLimitResponse { overall_code: Code::Unknown, statuses: Vec::new() };
    while let Some((field, value)) = r.field()? {
        match (field, &value) {
            (1, Value::Varint(v)) => resp.overall_code = Code::from_wire(*v),
            (2, Value::Bytes(b)) => resp.statuses.push(decode_status(b)?),
            (1 | 2, _) => return Err(r.wrong(field, &value)),
            _ => {}
        }
    }
    Ok(resp)
}

/// Reads a `RateLimitRequest` (the inverse of [`encode_request`]; for tests and tools).
pub fn decode_request(bytes: &[u8]) -> Result<RateLimitRequest, WireError> {
    let text = |r: &Reader, field, b: &[u8]| {
        std::str::from_utf8(b).map(str::to_string).map_err(|_| WireError::NotUtf8 { message: r.message, field })
    };
    let mut r = Reader::new(bytes, "RateLimitRequest");
    let mut req = RateLimitRequest { domain: String::new(), descriptors: Vec::new() };
    while let Some((field, value)) = r.field()? {
        match (field, &value) {
            (1, Value::Bytes(b)) => req.domain = text(&r, field, b)?,
            (2, Value::Bytes(b)) => {
                let mut d = Descriptor { entries: Vec::new(), hits_addend: None };
                let mut dr = Reader::new(b, "RateLimitDescriptor");
                while let Some((f, v)) = dr.field()? {
                    match (f, &v) {
                        (1, Value::Bytes(eb)) => {
                            let mut e = Entry { key: String::new(), value: String::new() };
                            let mut er = Reader::new(eb, "Entry");
                            while let Some((ef, ev)) = er.field()? {
                                match (ef, &ev) {
                                    (1, Value::Bytes(s)) => e.key = text(&er, ef, s)?,
                                    (2, Value::Bytes(s)) => e.value = text(&er, ef, s)?,
                                    (1 | 2, _) => return Err(er.wrong(ef, &ev)),
                                    _ => {}
                                }
                            }
                            d.entries.push(e);
                        }
                        (3, Value::Bytes(hb)) => {
                            let mut hr = Reader::new(hb, "UInt64Value");
                            let mut h = 0;
                            while let Some((hf, hv)) = hr.field()? {
                                if let (1, Value::Varint(x)) = (hf, &hv) {
                                    h = *x;
                                }
                            }
                            d.hits_addend = Some(h);
                        }
                        (1 | 3, _) => return Err(dr.wrong(f, &v)),
                        _ => {}
                    }
                }
                req.descriptors.push(d);
            }
            (1 | 2, _) => return Err(r.wrong(field, &value)),
            _ => {}
        }
    }
    Ok(req)
}
