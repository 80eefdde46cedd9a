//! The outage tracker behind the fleet metric and log lines; the policy's `fleet` section itself is
//! parsed with the rest of the policy ([`crate::policy::fleet`]) and re-exported here.

pub use crate::policy::fleet::{BudgetPath, FailMode, FleetSettings};

/// Whether the service is reachable, as the calls tell; a change is worth one log line and a gauge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetHealth {
    down: bool,
    failures: u64,
}

/// A change of [`FleetHealth`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthChange {
    /// The first failed call after successes (the log line says why).
    WentDown,
    /// The first successful call after failures, with how many failed meanwhile.
    CameBack { failed_calls: u64 },
}

impl FleetHealth {
    pub fn is_down(&self) -> bool {
        self.down
    }

    /// Records a call's outcome; returns the change, if this call made one.
    pub fn record(&mut self, ok: bool) -> Option<HealthChange> {
        match (ok, self.down) {
            (true, true) => {
                let failed_calls = self.failures;
                *self = FleetHealth::default();
                Some(HealthChange::CameBack { failed_calls })
            }
            (false, false) => {
                self.down = true;
                self.failures = 1;
                Some(HealthChange::WentDown)
            }
            (false, true) => {
                self.failures += 1;
                None
            }
            (true, false) => None,
        }
    }
}
