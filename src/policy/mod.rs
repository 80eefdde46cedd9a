//! Policy: every setting in one place. The JSON the operator writes is read into raw serde structs,
//! validated (every error names the field path, e.g. `budgets[1].window: unknown variant ...`), given
//! its defaults, and compiled once into the [`Policy`] the rest of the filter reads (phrase index
//! included). One section per file: `credential.rs` (credential and tenant), `limits.rs` (ledger,
//! inspection, budgets, lists), `detection.rs` (the `detection` section, phrase defaults; weight
//! defaults come from the signal table in [`crate::signals`]), `fleet.rs` (the `fleet` section),
//! `fields.rs` (the field-path error and the checks shared by sections, header names among them).
//!
//! The policy sits low in the crate: it imports only leaves ([`crate::hash`], [`crate::mask`],
//! [`crate::phrases`], [`crate::signals`], and for the `fleet` section [`crate::fleet::counters`]'
//! window and [`crate::fleet::export`]'s names); the modules that run with it import it, never the
//! other way round (`tools/layers.py`, run by `make lint`, fails on an import cycle).

mod credential;
mod detection;
mod fields;
pub mod fleet;
mod limits;

use serde::Deserialize;
use serde_json::Value;

pub use credential::{CredentialConfig, CredentialSource, MissingCredential, TenantSource};
pub use detection::{
    default_phrases, CampaignConfig, DegradeConfig, DetectionConfig, DetectionScope, ShapeConfig, Tiers,
    DEFAULT_INTENT_THRESHOLD,
};
use fields::{optional, parse_field};
pub use fields::{valid_header_name, PolicyError};
pub use limits::{Budget, Inspection, LedgerConfig, Lists, OversizeBody, Scope};

/// The only policy schema version this build understands.
pub const POLICY_VERSION: u64 = 1;
/// Upper bound for `ledger.max_credentials` (about 300 MB of shared data at ~300 bytes a slot).
pub const MAX_TRACKED_CREDENTIALS: u64 = 1_000_000;
/// Upper bound for `inspection.max_body_bytes` (Envoy's default buffer limit is 1 MiB).
pub const MAX_INSPECTED_BODY: u64 = 16 * 1024 * 1024;

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
    pub fleet: fleet::FleetSettings,
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

        let credential = credential::parse(obj, env)?;
        let ledger = limits::ledger(obj)?;
        let inspection = limits::inspection(obj)?;
        let budgets = limits::budgets(obj, !credential.tenants.is_empty())?;
        let lists = limits::lists(obj)?;
        let detection = DetectionConfig::parse(optional(obj, "detection"))?;
        let fleet = fleet::FleetSettings::parse(optional(obj, "fleet"), detection.campaign.window_s / 60)?;

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
}
