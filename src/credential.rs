//! Credential identification: which key (or identity, or client address) a request belongs to, the
//! tenant it aggregates under, and the keyed hash everything downstream uses instead of the raw key.

use std::fmt;

use serde_json::Value;

use crate::hash::{base64url_decode, hex, HmacKey};
use crate::policy::{CredentialConfig, CredentialSource, MissingCredential, TenantSource};

/// Longest header value looked at (a credential or JWT longer than this is ignored).
pub const MAX_CREDENTIAL_LEN: usize = 8 * 1024;

/// What kind of thing identified the request; part of the hash domain, so a key and an address with
/// the same text never share an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// An API key (bearer token or key header).
    Key,
    /// A JWT claim (an identity asserted by an issuer).
    Claim,
    /// The client address (no credential was sent).
    Address,
}

impl CredentialKind {
    fn domain(self) -> &'static [u8] {
        match self {
            CredentialKind::Key => b"key",
            CredentialKind::Claim => b"claim",
            CredentialKind::Address => b"addr",
        }
    }
}

/// An identified request: only hashed or operator-chosen values, never the raw key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// 16 hex digits of `HMAC-SHA-256(secret, kind || 0 || value)`.
    pub id: String,
    /// What identified it.
    pub kind: CredentialKind,
    /// Name of the source that matched (`bearer`, `header:x-api-key`, `jwt_claim:sub`, `client_address`).
    pub source: String,
    /// Tenant the credential aggregates under, if any.
    pub tenant: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("source", &self.source)
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// Why no credential could be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    /// No source matched and the policy blocks anonymous requests (or no address was known).
    Missing,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialError::Missing => write!(f, "no credential in the request"),
        }
    }
}

/// The keyed hash id of a value, as shown in `x-distill-credential` (from the worker's memo when it
/// was computed recently: [`HmacKey::id`]).
pub fn hashed_id(key: &HmacKey, kind: CredentialKind, value: &str) -> String {
    hex(&key.id(&[kind.domain(), b"\0", value.as_bytes()]))
}

/// Strips `Bearer ` (any case) from an authorization header value.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let value = authorization.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// Decodes the payload (middle part) of a compact JWT into a JSON object.
pub fn jwt_payload(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    payload_object(payload)
}

/// Decodes a base64url JSON object (a `jwt_authn` forwarded payload header).
pub fn payload_object(b64: &str) -> Option<serde_json::Map<String, Value>> {
    let bytes = base64url_decode(b64.trim())?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A claim by name (dots walk nested objects: `org.id`); strings and numbers only.
pub fn claim(payload: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    let mut segments = name.split('.');
    let mut current = payload.get(segments.next()?)?;
    for seg in segments {
        current = current.as_object()?.get(seg)?;
    }
    match current {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Identifies the request. `header(name)` returns a request header's value; `client_address` is
/// Envoy's downstream address (`ip:port` or `[v6]:port`).
pub fn identify(
    cfg: &CredentialConfig,
    header: &dyn Fn(&str) -> Option<String>,
    client_address: Option<&str>,
) -> Result<Credential, CredentialError> {
    let bounded = |name: &str| header(name).filter(|v| !v.trim().is_empty() && v.len() <= MAX_CREDENTIAL_LEN);
    let bearer = bounded("authorization").and_then(|v| bearer_token(&v).map(str::to_string));
    let bearer_jwt = || bearer.as_deref().and_then(jwt_payload);

    let mut found: Option<(CredentialKind, String, String)> = None;
    for source in &cfg.sources {
        found = match source {
            CredentialSource::Bearer => bearer.clone().map(|k| (CredentialKind::Key, k, "bearer".to_string())),
            CredentialSource::Header { name } => {
                bounded(name).map(|k| (CredentialKind::Key, k.trim().to_string(), format!("header:{name}")))
            }
            CredentialSource::JwtClaim { claim: c } => {
                bearer_jwt().and_then(|p| claim(&p, c)).map(|v| (CredentialKind::Claim, v, format!("jwt_claim:{c}")))
            }
            CredentialSource::JwtPayloadHeader { header: h, claim: c } => bounded(h)
                .and_then(|v| payload_object(&v))
                .and_then(|p| claim(&p, c))
                .map(|v| (CredentialKind::Claim, v, format!("jwt_payload_header:{h}"))),
        };
        if found.is_some() {
            break;
        }
    }

    let (kind, value, source) = match found {
        Some(f) => f,
        None => match cfg.missing {
            MissingCredential::Block => return Err(CredentialError::Missing),
            MissingCredential::TrackClientAddress => {
                let from_header = cfg
                    .client_address_header
                    .as_deref()
                    .and_then(&bounded)
                    .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
                    .filter(|s| !s.is_empty());
                let addr = from_header.or_else(|| client_address.map(strip_port)).ok_or(CredentialError::Missing)?;
                (CredentialKind::Address, addr, "client_address".to_string())
            }
        },
    };

    let tenant = cfg.tenants.iter().find_map(|t| match t {
        TenantSource::JwtClaim { claim: c } => bearer_jwt().and_then(|p| claim(&p, c)),
        TenantSource::JwtPayloadHeader { header: h, claim: c } => {
            bounded(h).and_then(|v| payload_object(&v)).and_then(|p| claim(&p, c))
        }
        TenantSource::Header { name } => bounded(name).map(|v| v.trim().to_string()),
        TenantSource::KeyPrefix { prefixes } => {
            if kind != CredentialKind::Key {
                return None;
            }
            prefixes
                .iter()
                .filter(|(prefix, _)| value.starts_with(prefix.as_str()))
                .max_by_key(|(prefix, _)| prefix.len())
                .map(|(_, tenant)| tenant.clone())
        }
    });
    let tenant = tenant.map(|t| display_tenant(&cfg.key, &t));

    Ok(Credential { id: hashed_id(&cfg.key, kind, &value), kind, source, tenant })
}

/// Tenant names are shown as sent when they are short and plain; anything else is hashed so that a
/// header value can never inject text into logs or headers.
fn display_tenant(key: &HmacKey, tenant: &str) -> String {
    let plain = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b));
    if plain {
        tenant.to_string()
    } else {
        format!("t-{}", hashed_id(key, CredentialKind::Claim, tenant))
    }
}

/// `1.2.3.4:5678` → `1.2.3.4`; `[::1]:80` → `::1`; anything else unchanged.
pub fn strip_port(addr: &str) -> String {
    if let Some(rest) = addr.strip_prefix('[') {
        if let Some((ip, _)) = rest.split_once(']') {
            return ip.to_string();
        }
    }
    match addr.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip.to_string(),
        _ => addr.to_string(),
    }
}
