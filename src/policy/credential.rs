//! The `credential` and `tenant` sections: where the credential and the tenant are read, what happens
//! without one, and the key of the credential ids.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{check_header, check_nonempty, optional, parse_field, parse_list};
use super::PolicyError;
use crate::hash::HmacKey;

/// Where a credential is read from; tried in the order listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialSource {
    /// `authorization: Bearer <key>`.
    Bearer,
    /// The value of a named request header (`x-api-key`, `api-key`, or one set by an auth filter).
    Header {
        /// Header name (lower case).
        name: String,
    },
    /// A claim of the JWT carried as the bearer token (payload decoded, signature not verified).
    JwtClaim {
        /// Claim name, e.g. `sub`.
        claim: String,
    },
    /// A claim of a JWT payload forwarded by `jwt_authn` (`forward_payload_header`), base64url JSON.
    JwtPayloadHeader {
        /// Header name.
        header: String,
        /// Claim name.
        claim: String,
    },
}

/// Where a tenant is read from; the first source that yields a value wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TenantSource {
    /// A claim of the bearer JWT.
    JwtClaim {
        /// Claim name, e.g. `org_id`.
        claim: String,
    },
    /// A claim of a JWT payload header forwarded by `jwt_authn`.
    JwtPayloadHeader {
        /// Header name.
        header: String,
        /// Claim name.
        claim: String,
    },
    /// A request header set by a trusted filter in front of this one.
    Header {
        /// Header name.
        name: String,
    },
    /// The longest matching key prefix maps the key to a tenant name.
    KeyPrefix {
        /// Prefix → tenant name.
        prefixes: BTreeMap<String, String>,
    },
}

/// What happens to a request that carries no credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MissingCredential {
    /// Answer 401 in the API's error format.
    #[default]
    Block,
    /// Track the request under its client address.
    TrackClientAddress,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    sources: Vec<Value>,
    #[serde(default)]
    missing: MissingCredential,
    #[serde(default)]
    client_address_header: Option<String>,
    #[serde(default)]
    hash_secret: Option<String>,
    #[serde(default)]
    hash_secret_env: Option<String>,
}

/// Credential identification settings, validated.
#[derive(Clone)]
pub struct CredentialConfig {
    /// Sources tried in order.
    pub sources: Vec<CredentialSource>,
    /// Tenant sources tried in order.
    pub tenants: Vec<TenantSource>,
    /// Behaviour without a credential.
    pub missing: MissingCredential,
    /// Header holding the client address (first entry of a comma list); else Envoy's source address.
    pub client_address_header: Option<String>,
    /// Keyed-hash key.
    pub key: HmacKey,
}

impl fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a secret: never printed.
        f.debug_struct("CredentialConfig")
            .field("sources", &self.sources)
            .field("tenants", &self.tenants)
            .field("missing", &self.missing)
            .field("client_address_header", &self.client_address_header)
            .finish_non_exhaustive()
    }
}

pub(super) fn parse(
    obj: &Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CredentialConfig, PolicyError> {
    let raw: RawCredential = match obj.get("credential") {
        Some(v) => parse_field(v, "credential")?,
        None => return Err(PolicyError::new("credential", "missing")),
    };
    if raw.sources.is_empty() {
        return Err(PolicyError::new("credential.sources", "needs at least one source"));
    }
    let mut sources = Vec::with_capacity(raw.sources.len());
    for (i, v) in raw.sources.iter().enumerate() {
        let path = format!("credential.sources[{i}]");
        let source: CredentialSource = parse_field(v, &path)?;
        match &source {
            CredentialSource::Bearer => {}
            CredentialSource::Header { name } => check_header(name, &format!("{path}.name"))?,
            CredentialSource::JwtClaim { claim } => check_nonempty(claim, &format!("{path}.claim"))?,
            CredentialSource::JwtPayloadHeader { header, claim } => {
                check_header(header, &format!("{path}.header"))?;
                check_nonempty(claim, &format!("{path}.claim"))?;
            }
        }
        sources.push(source);
    }
    if let Some(h) = &raw.client_address_header {
        check_header(h, "credential.client_address_header")?;
    }

    let secret = match (&raw.hash_secret, &raw.hash_secret_env) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::new(
                "credential.hash_secret_env",
                "give either hash_secret or hash_secret_env, not both",
            ))
        }
        (Some(s), None) => s.clone(),
        (None, Some(var)) => env(var).ok_or_else(|| {
            PolicyError::new(
                "credential.hash_secret_env",
                format!("environment variable `{var}` is not set for the VM"),
            )
        })?,
        (None, None) => {
            return Err(PolicyError::new("credential.hash_secret", "missing: set hash_secret or hash_secret_env"))
        }
    };
    if secret.len() < 16 {
        let field = if raw.hash_secret.is_some() { "credential.hash_secret" } else { "credential.hash_secret_env" };
        return Err(PolicyError::new(field, "the secret must be at least 16 bytes"));
    }

    let tenants = match optional(obj, "tenant") {
        Some(v) => parse_list::<TenantSource>(v, "tenant")?,
        None => Vec::new(),
    };
    for (i, t) in tenants.iter().enumerate() {
        let path = format!("tenant[{i}]");
        match t {
            TenantSource::JwtClaim { claim } => check_nonempty(claim, &format!("{path}.claim"))?,
            TenantSource::JwtPayloadHeader { header, claim } => {
                check_header(header, &format!("{path}.header"))?;
                check_nonempty(claim, &format!("{path}.claim"))?;
            }
            TenantSource::Header { name } => check_header(name, &format!("{path}.name"))?,
            TenantSource::KeyPrefix { prefixes } => {
                if prefixes.is_empty() {
                    return Err(PolicyError::new(format!("{path}.prefixes"), "needs at least one prefix"));
                }
                for (prefix, tenant) in prefixes {
                    check_nonempty(prefix, &format!("{path}.prefixes"))?;
                    check_nonempty(tenant, &format!("{path}.prefixes.{prefix}"))?;
                }
            }
        }
    }

    Ok(CredentialConfig {
        sources,
        tenants,
        missing: raw.missing,
        client_address_header: raw.client_address_header,
        key: HmacKey::new(secret.as_bytes()),
    })
}
