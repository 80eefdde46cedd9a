//! The `ledger`, `inspection`, `budgets` and `lists` sections: how much is tracked and read, the
//! limits per window, and who is exempt or refused.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{check_nonempty, optional, parse_field, parse_list};
use super::{is_credential_id, Action, PolicyError, Window, MAX_INSPECTED_BODY, MAX_TRACKED_CREDENTIALS};

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

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    #[serde(default)]
    max_credentials: Option<u64>,
    #[serde(default)]
    key_prefix: Option<String>,
    #[serde(default)]
    merge_interval_ms: Option<u64>,
    #[serde(default)]
    local_subjects: Option<u64>,
    #[serde(default)]
    exact_within: Option<f64>,
    #[serde(default)]
    exact_within_requests: Option<u64>,
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

/// Ledger settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Number of ledger slots: the most subjects (credentials and tenants) tracked at once.
    pub max_credentials: u64,
    /// Prefix of every shared-data key.
    pub key_prefix: String,
    /// Longest a worker decides on its own view of a subject, and keeps changes before merging them
    /// into shared data (ms); 0: every update is a compare-and-swap of the shared record.
    pub merge_interval_ms: u64,
    /// Most subjects in one worker's view.
    pub local_subjects: u64,
    /// A budget is decided on the shared record once a request would leave less than this share of
    /// it (parts per million)...
    pub exact_within_ppm: u64,
    /// ...or room for fewer than this many requests like it.
    pub exact_within_requests: u64,
}

impl LedgerConfig {
    /// Defaults with these slots and key prefix (tests and tools).
    pub fn with_slots(max_credentials: u64, key_prefix: &str) -> Self {
        Self {
            max_credentials,
            key_prefix: key_prefix.to_string(),
            merge_interval_ms: DEFAULT_MERGE_INTERVAL_MS,
            local_subjects: DEFAULT_LOCAL_SUBJECTS,
            exact_within_ppm: DEFAULT_EXACT_WITHIN_PPM,
            exact_within_requests: DEFAULT_EXACT_WITHIN_REQUESTS,
        }
    }
}

/// Default `ledger.merge_interval_ms`.
pub const DEFAULT_MERGE_INTERVAL_MS: u64 = 5_000;
/// Default `ledger.local_subjects`.
pub const DEFAULT_LOCAL_SUBJECTS: u64 = 10_000;
/// Default `ledger.exact_within` (0.2), in parts per million.
pub const DEFAULT_EXACT_WITHIN_PPM: u64 = 200_000;
/// Default `ledger.exact_within_requests`.
pub const DEFAULT_EXACT_WITHIN_REQUESTS: u64 = 32;

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

pub(super) fn ledger(obj: &Map<String, Value>) -> Result<LedgerConfig, PolicyError> {
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
    let merge_interval_ms = raw.merge_interval_ms.unwrap_or(DEFAULT_MERGE_INTERVAL_MS);
    if merge_interval_ms > 60_000 {
        return Err(PolicyError::new("ledger.merge_interval_ms", "must be between 0 and 60000"));
    }
    let local_subjects = raw.local_subjects.unwrap_or(DEFAULT_LOCAL_SUBJECTS);
    if local_subjects == 0 || local_subjects > MAX_TRACKED_CREDENTIALS {
        return Err(PolicyError::new(
            "ledger.local_subjects",
            format!("must be between 1 and {MAX_TRACKED_CREDENTIALS}"),
        ));
    }
    let exact_within = raw.exact_within.unwrap_or(DEFAULT_EXACT_WITHIN_PPM as f64 / 1e6);
    if !(0.0..=1.0).contains(&exact_within) {
        return Err(PolicyError::new("ledger.exact_within", "must be a share between 0 and 1"));
    }
    let exact_within_requests = raw.exact_within_requests.unwrap_or(DEFAULT_EXACT_WITHIN_REQUESTS);
    if exact_within_requests > 1_000_000 {
        return Err(PolicyError::new("ledger.exact_within_requests", "must be between 0 and 1000000"));
    }
    Ok(LedgerConfig {
        max_credentials,
        key_prefix,
        merge_interval_ms,
        local_subjects,
        exact_within_ppm: (exact_within * 1e6).round() as u64,
        exact_within_requests,
    })
}

pub(super) fn inspection(obj: &Map<String, Value>) -> Result<Inspection, PolicyError> {
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

pub(super) fn budgets(obj: &Map<String, Value>, has_tenants: bool) -> Result<Vec<Budget>, PolicyError> {
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

pub(super) fn lists(obj: &Map<String, Value>) -> Result<Lists, PolicyError> {
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
