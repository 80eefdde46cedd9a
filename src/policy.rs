//! Policy: the JSON the operator writes (raw serde structs) and the validated [`Policy`] the filter
//! runs with. Every error names the field path, e.g. `budgets[1].window: unknown variant ...`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::detection::DetectionConfig;
use crate::fleet::settings::FleetSettings;
use crate::hash::HmacKey;

/// The only policy schema version this build understands.
pub const POLICY_VERSION: u64 = 1;
/// Upper bound for `ledger.max_credentials` (about 300 MB of shared data at ~300 bytes a slot).
pub const MAX_TRACKED_CREDENTIALS: u64 = 1_000_000;
/// Upper bound for `inspection.max_body_bytes` (Envoy's default buffer limit is 1 MiB).
pub const MAX_INSPECTED_BODY: u64 = 16 * 1024 * 1024;

/// A policy that failed to parse or validate: the field path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Dotted path of the offending field (`""` for the document itself).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl PolicyError {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into() }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "policy: {}", self.reason)
        } else {
            write!(f, "policy field `{}`: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for PolicyError {}

/// Global enforcement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Verdicts are enforced.
    #[default]
    Enforce,
    /// Everything is computed and reported, nothing is enforced.
    Shadow,
}

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

/// What happens to a request body larger than `inspection.max_body_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OversizeBody {
    /// Forward it; input tokens are estimated from the byte count; signal `body_not_inspected`.
    #[default]
    Allow,
    /// Answer 413 in the API's error format.
    Block,
}

/// Who a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Each credential separately.
    Credential,
    /// All credentials of one tenant together.
    Tenant,
}

/// The rolling windows the ledger keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds.
    Day,
}

impl Window {
    /// All windows, in ledger order.
    pub const ALL: [Window; 3] = [Window::Minute, Window::Hour, Window::Day];

    /// Length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Window::Minute => 60,
            Window::Hour => 3_600,
            Window::Day => 86_400,
        }
    }

    /// Position in the ledger record.
    pub fn index(self) -> usize {
        match self {
            Window::Minute => 0,
            Window::Hour => 1,
            Window::Day => 2,
        }
    }

    /// Policy name.
    pub fn name(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Forward untouched.
    Allow,
    /// Forward with the verdict headers saying so.
    Tag,
    /// Forward a rewritten request (logprobs stripped, n and max_tokens capped, optional reroute).
    Degrade,
    /// 429 with `Retry-After`.
    Throttle,
    /// 403.
    Block,
}

impl Action {
    /// Lower-case name used in headers, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Tag => "tag",
            Action::Degrade => "degrade",
            Action::Throttle => "throttle",
            Action::Block => "block",
        }
    }
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

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    #[serde(default)]
    max_credentials: Option<u64>,
    #[serde(default)]
    key_prefix: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawInspection {
    #[serde(default)]
    max_body_bytes: Option<u64>,
    #[serde(default)]
    oversize_body: OversizeBody,
    #[serde(default)]
    inject_include_usage: Option<bool>,
    #[serde(default)]
    hold_headers: Option<bool>,
    #[serde(default)]
    max_response_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    name: String,
    scope: Scope,
    window: Window,
    #[serde(default)]
    max_requests: Option<u64>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    shadow: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLists {
    #[serde(default)]
    allow_credentials: Vec<String>,
    #[serde(default)]
    block_credentials: Vec<String>,
    #[serde(default)]
    allow_tenants: Vec<String>,
    #[serde(default)]
    block_tenants: Vec<String>,
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

/// Ledger settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Number of ledger slots: the most subjects (credentials and tenants) tracked at once.
    pub max_credentials: u64,
    /// Prefix of every shared-data key.
    pub key_prefix: String,
}

/// Body inspection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Largest request body parsed.
    pub max_body_bytes: u64,
    /// What happens above it.
    pub oversize_body: OversizeBody,
    /// Add `stream_options.include_usage` to streaming OpenAI requests that lack it.
    pub inject_include_usage: bool,
    /// Largest non-streaming response body kept for reading `usage`.
    pub max_response_bytes: u64,
    /// Hold the request headers until the body is read (needs Envoy's
    /// `allow_on_headers_stop_iteration`). `false` is headers-first mode, for hosts that cannot set
    /// it (Istio's WasmPlugin): the `x-distill-*` headers then carry the verdict known before the
    /// body (lists, budgets by request count, the credential's sticky tier), and the body verdict
    /// can still reject or rewrite the request but not add headers or reroute it.
    pub hold_headers: bool,
}

/// A request or token limit over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Unique name, used in signals (`budget:<name>`).
    pub name: String,
    /// Credential or tenant.
    pub scope: Scope,
    /// Window.
    pub window: Window,
    /// Most requests in the window.
    pub max_requests: Option<u64>,
    /// Most tokens (input + output) in the window.
    pub max_tokens: Option<u64>,
    /// `throttle` (default) or `tag`.
    pub action: Action,
    /// Report but do not enforce.
    pub shadow: bool,
}

/// Allow- and block-lists, by hashed credential id and tenant name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists {
    /// Credential ids exempt from every rule.
    pub allow_credentials: BTreeSet<String>,
    /// Credential ids always blocked.
    pub block_credentials: BTreeSet<String>,
    /// Tenants exempt from every rule.
    pub allow_tenants: BTreeSet<String>,
    /// Tenants always blocked.
    pub block_tenants: BTreeSet<String>,
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Schema version (always [`POLICY_VERSION`]).
    pub version: u64,
    /// Operator's label for this policy, shown in logs and the `policy_revision` gauge.
    pub revision: String,
    /// Numeric form of the revision when it is an integer (for the gauge), else 0.
    pub revision_number: u64,
    /// Global mode.
    pub mode: Mode,
    /// Credential settings.
    pub credential: CredentialConfig,
    /// Ledger settings.
    pub ledger: LedgerConfig,
    /// Inspection settings.
    pub inspection: Inspection,
    /// Budgets.
    pub budgets: Vec<Budget>,
    /// Lists.
    pub lists: Lists,
    /// Distillation detection.
    pub detection: DetectionConfig,
    /// Fleet-wide detection counters (off by default).
    pub fleet: FleetSettings,
}

const TOP_LEVEL: &[&str] = &[
    "version",
    "revision",
    "mode",
    "credential",
    "tenant",
    "ledger",
    "inspection",
    "budgets",
    "lists",
    "detection",
    "fleet",
];

fn parse_field<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, PolicyError> {
    T::deserialize(value).map_err(|e| PolicyError::new(path, e.to_string()))
}

fn parse_list<T: DeserializeOwned>(value: &Value, path: &str) -> Result<Vec<T>, PolicyError> {
    let items = value.as_array().ok_or_else(|| PolicyError::new(path, "expected an array"))?;
    items.iter().enumerate().map(|(i, v)| parse_field(v, &format!("{path}[{i}]"))).collect()
}

fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_header(name: &str, path: &str) -> Result<(), PolicyError> {
    if valid_header_name(name) {
        Ok(())
    } else {
        Err(PolicyError::new(path, format!("`{name}` is not a lower-case header name")))
    }
}

fn check_nonempty(value: &str, path: &str) -> Result<(), PolicyError> {
    if value.trim().is_empty() {
        Err(PolicyError::new(path, "must not be empty"))
    } else {
        Ok(())
    }
}

/// True when `id` has the form of a credential id (16 lower-case hex digits).
pub fn is_credential_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Policy {
    /// One line saying which policy this is, for logs and the policy checker.
    pub fn summary(&self) -> String {
        format!(
            "version={} revision={} mode={:?} budgets={} max_credentials={}",
            self.version,
            if self.revision.is_empty() { "-" } else { self.revision.as_str() },
            self.mode,
            self.budgets.len(),
            self.ledger.max_credentials
        )
    }

    /// Parses and validates policy JSON. `env` resolves `credential.hash_secret_env`.
    pub fn parse(json: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Policy, PolicyError> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| PolicyError::new("", format!("not valid JSON: {e}")))?;
        let obj = doc.as_object().ok_or_else(|| PolicyError::new("", "expected a JSON object"))?;
        for key in obj.keys() {
            if !TOP_LEVEL.contains(&key.as_str()) {
                return Err(PolicyError::new(
                    key.as_str(),
                    format!("unknown field, expected one of {}", TOP_LEVEL.join(", ")),
                ));
            }
        }

        let version: u64 = match obj.get("version") {
            Some(v) => parse_field(v, "version")?,
            None => return Err(PolicyError::new("version", "missing (this build reads version 1)")),
        };
        if version != POLICY_VERSION {
            return Err(PolicyError::new(
                "version",
                format!("unsupported version {version}, this build reads version {POLICY_VERSION}"),
            ));
        }
        let revision = match optional(obj, "revision") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(PolicyError::new("revision", "expected a string or a number")),
            None => String::new(),
        };
        if revision.len() > 64 {
            return Err(PolicyError::new("revision", "longer than 64 characters"));
        }
        let revision_number = revision.parse::<u64>().unwrap_or(0);
        let mode = match optional(obj, "mode") {
            Some(v) => parse_field(v, "mode")?,
            None => Mode::default(),
        };

        let credential = Self::credential(obj, env)?;
        let ledger = Self::ledger(obj)?;
        let inspection = Self::inspection(obj)?;
        let budgets = Self::budgets(obj, !credential.tenants.is_empty())?;
        let lists = Self::lists(obj)?;
        let detection = DetectionConfig::parse(optional(obj, "detection"))?;
        let fleet = FleetSettings::parse(optional(obj, "fleet"), detection.campaign.window_s / 60)?;

        Ok(Policy {
            version,
            revision,
            revision_number,
            mode,
            credential,
            ledger,
            inspection,
            budgets,
            lists,
            detection,
            fleet,
        })
    }

    fn credential(
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

    fn ledger(obj: &Map<String, Value>) -> Result<LedgerConfig, PolicyError> {
        let raw: RawLedger = match optional(obj, "ledger") {
            Some(v) => parse_field(v, "ledger")?,
            None => RawLedger::default(),
        };
        let max_credentials = raw.max_credentials.unwrap_or(10_000);
        if max_credentials == 0 || max_credentials > MAX_TRACKED_CREDENTIALS {
            return Err(PolicyError::new(
                "ledger.max_credentials",
                format!("must be between 1 and {MAX_TRACKED_CREDENTIALS}"),
            ));
        }
        let key_prefix = raw.key_prefix.unwrap_or_else(|| "distill_guard".to_string());
        if key_prefix.is_empty()
            || key_prefix.len() > 64
            || !key_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(PolicyError::new(
                "ledger.key_prefix",
                "must be 1-64 characters of letters, digits, `_`, `-` or `.`",
            ));
        }
        Ok(LedgerConfig { max_credentials, key_prefix })
    }

    fn inspection(obj: &Map<String, Value>) -> Result<Inspection, PolicyError> {
        let raw: RawInspection = match optional(obj, "inspection") {
            Some(v) => parse_field(v, "inspection")?,
            None => RawInspection::default(),
        };
        let max_body_bytes = raw.max_body_bytes.unwrap_or(1024 * 1024);
        if max_body_bytes == 0 || max_body_bytes > MAX_INSPECTED_BODY {
            return Err(PolicyError::new(
                "inspection.max_body_bytes",
                format!("must be between 1 and {MAX_INSPECTED_BODY}"),
            ));
        }
        let max_response_bytes = raw.max_response_bytes.unwrap_or(1024 * 1024);
        if max_response_bytes == 0 || max_response_bytes > MAX_INSPECTED_BODY {
            return Err(PolicyError::new(
                "inspection.max_response_bytes",
                format!("must be between 1 and {MAX_INSPECTED_BODY}"),
            ));
        }
        Ok(Inspection {
            max_body_bytes,
            oversize_body: raw.oversize_body,
            inject_include_usage: raw.inject_include_usage.unwrap_or(true),
            max_response_bytes,
            hold_headers: raw.hold_headers.unwrap_or(true),
        })
    }

    fn budgets(obj: &Map<String, Value>, has_tenants: bool) -> Result<Vec<Budget>, PolicyError> {
        let raws: Vec<RawBudget> = match optional(obj, "budgets") {
            Some(v) => parse_list(v, "budgets")?,
            None => Vec::new(),
        };
        let mut names = BTreeSet::new();
        let mut budgets = Vec::with_capacity(raws.len());
        for (i, raw) in raws.into_iter().enumerate() {
            let path = format!("budgets[{i}]");
            if raw.name.is_empty()
                || raw.name.len() > 48
                || !raw.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return Err(PolicyError::new(
                    format!("{path}.name"),
                    "must be 1-48 characters of lower-case letters, digits, `_` or `-`",
                ));
            }
            if !names.insert(raw.name.clone()) {
                return Err(PolicyError::new(format!("{path}.name"), format!("duplicate budget name `{}`", raw.name)));
            }
            if raw.max_requests.is_none() && raw.max_tokens.is_none() {
                return Err(PolicyError::new(path, "set max_requests, max_tokens or both"));
            }
            if raw.max_requests == Some(0) {
                return Err(PolicyError::new(format!("{path}.max_requests"), "must be at least 1"));
            }
            if raw.max_tokens == Some(0) {
                return Err(PolicyError::new(format!("{path}.max_tokens"), "must be at least 1"));
            }
            if raw.scope == Scope::Tenant && !has_tenants {
                return Err(PolicyError::new(
                    format!("{path}.scope"),
                    "a tenant budget needs at least one `tenant` source",
                ));
            }
            let action = raw.action.unwrap_or(Action::Throttle);
            if !matches!(action, Action::Throttle | Action::Tag) {
                return Err(PolicyError::new(format!("{path}.action"), "a budget action is `throttle` or `tag`"));
            }
            budgets.push(Budget {
                name: raw.name,
                scope: raw.scope,
                window: raw.window,
                max_requests: raw.max_requests,
                max_tokens: raw.max_tokens,
                action,
                shadow: raw.shadow,
            });
        }
        Ok(budgets)
    }

    fn lists(obj: &Map<String, Value>) -> Result<Lists, PolicyError> {
        let raw: RawLists = match optional(obj, "lists") {
            Some(v) => parse_field(v, "lists")?,
            None => RawLists::default(),
        };
        let ids = |ids: Vec<String>, path: &str| -> Result<BTreeSet<String>, PolicyError> {
            for (i, id) in ids.iter().enumerate() {
                if !is_credential_id(id) {
                    return Err(PolicyError::new(
                        format!("{path}[{i}]"),
                        "a credential id is the 16 hex digits shown in x-distill-credential",
                    ));
                }
            }
            Ok(ids.into_iter().collect())
        };
        let names = |names: Vec<String>, path: &str| -> Result<BTreeSet<String>, PolicyError> {
            for (i, n) in names.iter().enumerate() {
                check_nonempty(n, &format!("{path}[{i}]"))?;
            }
            Ok(names.into_iter().collect())
        };
        Ok(Lists {
            allow_credentials: ids(raw.allow_credentials, "lists.allow_credentials")?,
            block_credentials: ids(raw.block_credentials, "lists.block_credentials")?,
            allow_tenants: names(raw.allow_tenants, "lists.allow_tenants")?,
            block_tenants: names(raw.block_tenants, "lists.block_tenants")?,
        })
    }
}
