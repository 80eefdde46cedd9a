//! The policy's `fleet` section: fleet-wide detection counters through a rate limit service (see
//! [`crate::fleet`]). Parsed like every other section: unknown fields are errors, each error names its
//! field path. Off by default.

use serde::Deserialize;
use serde_json::Value;

use super::fields::PolicyError;
use crate::fleet::counters::CampaignWindow;
use crate::fleet::export::GRPC_CLUSTER;

/// What the filter does while the rate limit service cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Decide from local state (the default): detection sees only this replica meanwhile.
    Open,
    /// Treat a credential the fleet view cannot vouch for as over its budgets (429).
    Closed,
}

/// Who enforces the policy's budgets fleet-wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPath {
    /// Envoy's rate limit filter, from the filter state the filter exports (the default; the filter
    /// itself keeps only its per-replica budgets).
    Envoy,
    /// The filter: charges in batches on its tick, decides from its view, and waits on a synchronous
    /// check once a subject's view reaches `sync_check_percent` of a budget (see [`crate::fleet::budgets`]).
    Filter,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    tick_ms: Option<u64>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    sync_check_percent: Option<u64>,
    #[serde(default)]
    fail: Option<FailMode>,
    #[serde(default)]
    max_descriptors: Option<u64>,
    #[serde(default)]
    max_pending: Option<u64>,
    #[serde(default)]
    budgets: Option<BudgetPath>,
}

/// The validated `fleet` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSettings {
    /// Share detection counters through the rate limit service (default off).
    pub enabled: bool,
    /// The Envoy cluster of the service (`dispatch_grpc_call`'s upstream).
    pub cluster: String,
    /// How often the root context flushes deltas and refreshes the view.
    pub tick_ms: u64,
    /// Timeout of each call.
    pub timeout_ms: u64,
    /// A subject at or above this share of a budget by the local view waits for a fleet check.
    pub sync_check_percent: u8,
    pub fail: FailMode,
    /// Descriptors per call; the rest waits for the next tick.
    pub max_descriptors: usize,
    /// Distinct entries a VM holds between flushes (and in its view); beyond, new ones are dropped.
    pub max_pending: usize,
    /// The campaign window shared by all replicas (`detection.campaign.window_minutes`).
    pub window: CampaignWindow,
    /// Who enforces the budgets fleet-wide (`envoy` by default).
    pub budgets: BudgetPath,
}

fn err(path: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::new(path, reason)
}

fn ranged(value: Option<u64>, default: u64, min: u64, max: u64, path: &str) -> Result<u64, PolicyError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(err(path, format!("must be {min}..={max}, got {v}")));
    }
    Ok(v)
}

impl FleetSettings {
    /// Parses the `fleet` section (`None`: defaults, off). `campaign_window_minutes` is the detection
    /// section's window, which fleet counters need to divide a day.
    pub fn parse(value: Option<&Value>, campaign_window_minutes: u64) -> Result<FleetSettings, PolicyError> {
        let raw: RawFleet = match value {
            Some(v) => RawFleet::deserialize(v).map_err(|e| err("fleet", e.to_string()))?,
            None => RawFleet::default(),
        };
        let enabled = raw.enabled.unwrap_or(false);
        let cluster = raw.cluster.unwrap_or_else(|| GRPC_CLUSTER.to_string());
        if cluster.is_empty() || cluster.len() > 128 || cluster.chars().any(|c| c.is_control() || c == ' ') {
            return Err(err("fleet.cluster", "must be an Envoy cluster name (1..=128 characters, no spaces)"));
        }
        let window = match CampaignWindow::new(campaign_window_minutes) {
            Ok(w) => w,
            Err(_) if !enabled => CampaignWindow::new(60).map_err(|e| err("fleet", e.to_string()))?,
            Err(e) => return Err(err("detection.campaign.window_minutes", e.to_string())),
        };
        let tick_ms = ranged(raw.tick_ms, 1000, 100, 60_000, "fleet.tick_ms")?;
        let timeout_ms = ranged(raw.timeout_ms, 200, 1, 5_000, "fleet.timeout_ms")?;
        let sync = ranged(raw.sync_check_percent, 90, 0, 100, "fleet.sync_check_percent")?;
        let max_descriptors = ranged(raw.max_descriptors, 128, 1, 1_000, "fleet.max_descriptors")?;
        let max_pending = ranged(raw.max_pending, 10_000, 1, 1_000_000, "fleet.max_pending")?;
        let budgets = raw.budgets.unwrap_or(BudgetPath::Envoy);
        if budgets == BudgetPath::Filter && !enabled {
            return Err(err("fleet.budgets", "`filter` needs `fleet.enabled: true`"));
        }
        Ok(FleetSettings {
            enabled,
            cluster,
            tick_ms,
            timeout_ms,
            sync_check_percent: u8::try_from(sync).unwrap_or(100),
            fail: raw.fail.unwrap_or(FailMode::Open),
            max_descriptors: usize::try_from(max_descriptors).unwrap_or(1_000),
            max_pending: usize::try_from(max_pending).unwrap_or(1_000_000),
            window,
            budgets,
        })
    }
}
